"""User-facing errors: one line, naming the file and field at fault."""

from __future__ import annotations


class UserError(Exception):
    """Bad input from the user; the CLI prints it on one line and exits with code 2."""

    exit_code = 2

    def __init__(self, message: str, *, where: str | None = None) -> None:
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)
