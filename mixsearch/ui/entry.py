"""Running the CLI app: every way a command can end becomes an exit code, and a failure a single
line `error: <where>: <what>` on stderr (and, with --json, {"error", "exit_code"} on stdout).

User and environment errors never print a traceback; a bug (any other exception) does, and
exits 1.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable
from contextlib import nullcontext
from types import SimpleNamespace

import typer

from mixsearch.errors import EXIT_INPUT, EXIT_INTERNAL, EXIT_OK, EXIT_PIPE, UserError
from mixsearch.signals import Terminated
from mixsearch.ui import output


def _click_exceptions() -> SimpleNamespace:
    """The command-line parser's exception classes by name: typer exports BadParameter alone of them,
    so they are found from its base ClickException and that base's subclasses."""
    base = next(c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")
    found, todo = {}, [base]
    while todo:
        cls = todo.pop()
        found.setdefault(cls.__name__, cls)
        todo += cls.__subclasses__()
    return SimpleNamespace(**found)


ce = _click_exceptions()


def usage_line(exc: Exception) -> str:
    """A click usage error as `<where>: <what>` (the option or argument, else the command)."""
    command = exc.ctx.command_path if exc.ctx is not None else "mixsearch"
    if isinstance(exc, ce.BadParameter) and exc.param is not None:
        where = exc.param.opts[0] if getattr(exc.param, "param_type_name", "") == "option" \
            else exc.param.display_name_raw.upper()
        if isinstance(exc, ce.MissingParameter):
            return f"{where}: missing (see {command} --help)"
        return f"{where}: {_lower_first(exc.message)}"
    if isinstance(exc, (ce.NoSuchOption, ce.BadOptionUsage)):
        return f"{exc.option_name}: {_lower_first(exc.format_message())} (see {command} --help)"
    return f"{command}: {_lower_first(exc.format_message())}"


def _lower_first(text: str) -> str:
    text = " ".join(text.split()).rstrip(".")
    return text[:1].lower() + text[1:]


def _os_line(exc: OSError) -> str:
    where = exc.filename if exc.filename is not None else "mixsearch"
    what = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
    return f"{os.fspath(where)}: {what}"


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush cannot fail a second time."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


def run(app: Callable[..., object], argv: list[str]) -> int:
    """Run the typer app on argv; return the exit code (printing the one error line on failure)."""
    as_json = output.wants_json(argv)
    code, message = EXIT_OK, None
    try:
        try:
            with output.json_stdout() if as_json else nullcontext():
                result = app(args=argv, prog_name="mixsearch", standalone_mode=False)
            code = result if isinstance(result, int) else EXIT_OK
        except ce.NoArgsIsHelpError as exc:
            print(exc.ctx.get_help())
            return EXIT_OK
        except UserError as exc:
            code, message = exc.exit_code, str(exc)
        except ce.UsageError as exc:
            code, message = EXIT_INPUT, usage_line(exc)
        except ce.ClickException as exc:
            code, message = EXIT_INPUT, exc.format_message()
        except BrokenPipeError:  # the reader of stdout went away (`mixsearch status | head`)
            _silence_stdout()
            return EXIT_PIPE
        except SystemExit as exc:  # click and rich turn a closed stdout into a silent exit 1
            if isinstance(exc.__context__, BrokenPipeError):
                _silence_stdout()
                return EXIT_PIPE
            raise
        except OSError as exc:  # the environment: permissions, a full disk, a missing directory
            code, message = EXIT_INPUT, _os_line(exc)
        except Exception as exc:  # a bug: the traceback is printed, exit 1; scripts still get a document
            if isinstance(exc.__cause__, Terminated):  # raised by the handler inside C code, which wrapped it
                raise exc.__cause__ from None
            if as_json:
                output.emit_error_json(f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL)
            raise
    except Terminated as exc:
        code, message = exc.exit_code, f"interrupted by {exc.name}"
    if message is not None:
        for line in message.splitlines():  # several problems (e.g. of a recipe): one line each
            print(f"error: {line}", file=sys.stderr)
        if as_json:
            output.emit_error_json(message, code)
    return code
