"""Run logs kept to their tail: a command trainer's stdout/stderr beyond LOG_CAP bytes loses its
beginning, and its first line says how much was dropped. The log is cut while the command runs
(`TailLog`), so a command that prints without end never fills the disk."""

from __future__ import annotations

from pathlib import Path

from mixsearch.paths import write_atomic

LOG_CAP = 1 << 20  # bytes of each stream a run keeps
NOTE_ROOM = 256  # of them, for the note of what was dropped
LIVE_CAP = LOG_CAP + LOG_CAP // 2  # a log being written is cut back to LOG_CAP when it passes this


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


class TailLog:
    """A log file written as its stream arrives, holding at most LIVE_CAP bytes (plus one write):
    past that it is rewritten (atomically: a reader sees the old file or the new one) to a note of
    how many of the stream's bytes were dropped and the stream's last `cap` bytes. `close` cuts it
    to `cap` bytes in all."""

    def __init__(self, path: Path, cap: int = LOG_CAP, live_cap: int = LIVE_CAP) -> None:
        self.path, self.cap, self.live_cap = path, cap, live_cap
        self.dropped = 0  # bytes of the stream no longer in the file
        self.note = 0  # bytes of the note at the file's start
        self.fh = path.open("wb")

    def write(self, data: bytes) -> None:
        self.fh.write(data)
        if self.fh.tell() > self.live_cap:
            self._keep_tail()

    def close(self) -> None:
        try:
            if self.fh.tell() > self.cap or self.dropped:  # a note written while running is out of date
                self._keep_tail()
        finally:
            self.fh.close()

    def _keep_tail(self) -> None:
        self.fh.flush()
        total = self.dropped + self.fh.tell() - self.note
        tail, _, _ = read_tail(self.path, self.cap - NOTE_ROOM)  # the note is shorter than NOTE_ROOM: not in it
        self.dropped = total - len(tail)
        note = dropped_note(self.dropped, total).encode()
        write_atomic(self.path, note + tail)
        self.fh.close()
        self.fh = self.path.open("ab")
        self.note = len(note)
