"""User-facing errors and the CLI's exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1  # a bug: a traceback is printed
EXIT_INPUT = 2  # invalid recipe, file, option or state: one line on stderr
EXIT_LOCKED = 3  # another process holds the study's lock
EXIT_RUNS_FAILED = 4  # the command finished, but some runs failed after their retries
EXIT_RAY = 5  # Ray failed (start-up, a dead raylet or GCS, no node left): one line; open runs stay open
EXIT_PIPE = 141  # stdout's reader went away (`| head`): stopped quietly, as shell tools do (128 + SIGPIPE)
# 128 + the signal number when interrupted: 130 (SIGINT), 143 (SIGTERM); see signals.py


class UserError(Exception):
    """Bad input from the user; the CLI prints it on one line and exits with `exit_code`."""

    exit_code = EXIT_INPUT

    def __init__(self, message: str, *, where: str | None = None) -> None:
        """Several problems are several lines of `message`; each line is prefixed with `where`."""
        self.where = where
        super().__init__("\n".join(f"{where}: {line}" for line in message.splitlines()) if where else message)


class LockHeld(UserError):
    """The study is locked by another live process."""

    exit_code = EXIT_LOCKED


class RayFailure(UserError):
    """Ray itself failed; the runs it was training stay open, so rerunning the command resumes them."""

    exit_code = EXIT_RAY

    def __init__(self, what: str, todo: str) -> None:
        super().__init__(f"{what}; {todo}", where="ray")
