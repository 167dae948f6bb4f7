"""`python -m mixsearch` and the `mixsearch` script: signals are handled before the CLI's imports."""

from __future__ import annotations

import sys


def entry() -> None:
    from mixsearch import signals

    signals.install()
    try:
        from mixsearch.cli import main
    except signals.Terminated as exc:  # interrupted while starting up
        print(f"error: interrupted by {exc.name}", file=sys.stderr)
        sys.exit(exc.exit_code)
    main()


if __name__ == "__main__":
    entry()
