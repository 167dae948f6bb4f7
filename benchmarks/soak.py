"""The tests that start Ray or send signals, run again and again beside busy processes: one
command, one table.

    python benchmarks/soak.py [--iterations 10] [--busy 4] [--tests NODE ...]

Each iteration is one pytest process over the tests (by default those of Ray failures, signals,
the embedded Ray and the end of a command with its worker); `--busy` processes of normal priority
spin beside them the whole time. It stops at the first iteration that fails and says how many
passed in a row. Run it from the repository root.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import time
from datetime import datetime

from rich.console import Console
from rich.table import Table

TESTS = ["tests/test_signals.py", "tests/execute/test_ray_failures.py", "tests/execute/test_ray_embedded.py",
         "tests/execute/test_ray_local.py", "tests/execute/test_guard.py",
         "tests/execute/test_command.py::test_a_command_and_its_children_die_with_their_worker"]
TIMEOUT_S = 3600  # a hang guard per iteration


FAILURE_LINES = 80  # of a failing iteration's output, printed after the table


def iteration(tests: list[str]) -> tuple[int, str, float, list[str]]:
    """(pytest's exit code, its summary line, seconds, its output's lines) of one run of the tests."""
    start = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests],
                         capture_output=True, text=True, timeout=TIMEOUT_S)
    lines = res.stdout.strip().splitlines() or [res.stderr.strip()[-200:]]
    return res.returncode, lines[-1].strip("= "), time.perf_counter() - start, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--iterations", type=int, default=10, help="runs of the tests in a row (default 10)")
    ap.add_argument("--busy", type=int, default=4, help="busy processes beside them (default 4)")
    ap.add_argument("--tests", nargs="+", default=TESTS, help="pytest node ids (default: the Ray and signal tests)")
    args = ap.parse_args()
    table = Table(title=f"soak: {args.busy} busy processes beside the tests ({platform.machine()}, "
                        f"{os.cpu_count()} CPUs, {datetime.now():%Y-%m-%d})")
    for col in ("iteration", "result", "seconds", "load at start", "load at end"):
        table.add_column(col)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stopped: the busy processes end too
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.busy)]
    passed, failure, stopped = 0, [], False
    try:
        for n in range(1, args.iterations + 1):
            load = os.getloadavg()[0]
            code, summary, seconds, lines = iteration(args.tests)
            table.add_row(str(n), summary, f"{seconds:.0f}", f"{load:.1f}", f"{os.getloadavg()[0]:.1f}")
            if code != 0:
                failure = lines[-FAILURE_LINES:]
                break
            passed += 1
    except (KeyboardInterrupt, SystemExit):  # the iteration in progress is not counted
        stopped = True
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()
    Console(width=160).print(table)
    if failure:
        print("\n".join(["the failing iteration's last lines:", *failure]))
    print(f"{passed} of {args.iterations} iterations passed in a row" + (" (stopped before the end)" if stopped else ""))
    sys.exit(0 if passed == args.iterations else 1)


if __name__ == "__main__":
    main()
