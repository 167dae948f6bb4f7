"""What one run trains, as plain data: it ships to Ray workers and to command trainers, and
importing it costs no deep-learning framework (a command trainer's run never imports torch)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class RunSpec:
    """Everything a run depends on; plain data so it ships to Ray workers."""

    run_id: str
    mixture: dict[str, float]
    seed: int
    model: dict
    train: dict
    threads: int = 1
    fidelity: str = "target"
    trainer: dict | None = None  # an external command trainer's settings (execute/command.py); None: built-in
    phases: list[dict] | None = None  # a schedule [{name, share, mixture}]; `mixture` is then its overall share

    def to_dict(self) -> dict:
        return asdict(self)
