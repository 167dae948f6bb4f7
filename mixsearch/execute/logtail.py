"""Run logs kept to their tail: a command trainer's stdout/stderr beyond LOG_CAP bytes loses its
beginning, and its first line says how much was dropped."""

from __future__ import annotations

from pathlib import Path

from mixsearch.paths import write_atomic

LOG_CAP = 1 << 20  # bytes of each stream a run keeps
NOTE_ROOM = 256  # of them, for the note of what was dropped


def dropped_note(dropped: int, total: int) -> str:
    return f"[mixsearch: the first {dropped:,} of {total:,} bytes of this log are not kept; its last part follows]\n"


def read_tail(path: Path, cap: int = LOG_CAP) -> tuple[bytes, int, int]:
    """(the last `cap` bytes of the file, starting at a line when one starts there; bytes before
    them; the file's size)."""
    size = path.stat().st_size
    if size <= cap:
        return path.read_bytes(), 0, size
    with path.open("rb") as fh:
        fh.seek(size - cap)
        tail = fh.read(cap)
    cut = tail.find(b"\n")
    if 0 <= cut < len(tail) - 1:
        tail = tail[cut + 1:]
    return tail, size - len(tail), size


def cap_log(path: Path, cap: int = LOG_CAP) -> int:
    """Rewrite the log at `path` (atomically) to at most `cap` bytes: a line that says how many
    bytes were dropped, then the log's tail; returns that number (0: the log was left as it was)."""
    if path.stat().st_size <= cap:
        return 0
    tail, dropped, size = read_tail(path, cap - NOTE_ROOM)
    write_atomic(path, dropped_note(dropped, size).encode() + tail)
    return dropped
