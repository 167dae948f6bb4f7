"""A run's identity and which stored runs are current: a run id hashes what its result depends on
(mixture, model, training, seed, data and a command trainer), and the runs of an older data hash
or of another trainer stay out of the fit."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pandas as pd

from mixsearch.hashing import stable_hash

if TYPE_CHECKING:
    from mixsearch.search.fidelity import FidelityConfig


def run_id(mixture: dict[str, float], fid: FidelityConfig, seed: int, data_hash: str, trainer: dict | None,
           shares: dict[str, float] | None = None) -> str:
    """Hash of what a run's result depends on: mixture, model, training, seed, data, for a command
    trainer the trainer's identity (the built-in GPT's ids leave it out, as they always have) and,
    for a phased mixture, the phases' shares."""
    key = {"mixture": {k: round(v, 6) for k, v in mixture.items()}, "model": fid.model.model_dump(),
           "train": fid.train.model_dump(), "seed": seed, "data": data_hash}
    if trainer is not None:
        key["trainer"] = trainer
    if shares:
        key["shares"] = shares
    return stable_hash(key)


def trainer_hash(trainer: dict | None) -> str:
    """A hash of a trainer's identity, stored with each run ("" for the built-in GPT)."""
    return "" if trainer is None else stable_hash(trainer)


def data_known(done: pd.DataFrame) -> pd.Series:
    """Whether each run records the data hash it was trained on (imported runs do not)."""
    if "data_hash" not in done:
        return pd.Series(False, index=done.index)
    return done["data_hash"].notna() & (done["data_hash"].astype(str) != "")


def current_data(done: pd.DataFrame, data_hash: str) -> tuple[pd.DataFrame, int]:
    """The runs trained on the current data (or of unknown data, e.g. imported), and how
    many were trained on an older data hash."""
    if "data_hash" not in done or done.empty:
        return done, 0
    stale = data_known(done) & (done["data_hash"] != data_hash)
    return done[~stale], int(stale.sum())


def current_trainer(done: pd.DataFrame, trainer: str, is_current_id: Callable[[dict], bool]) -> tuple[pd.DataFrame, int]:
    """The runs of the recipe's current trainer (hash `trainer`; or of unknown data and trainer, e.g.
    imported), and how many another trainer trained. An empty trainer_hash is the built-in GPT's, or a
    run's stored before the column existed: under a command trainer such a run is its own when its id
    is the one the current trainer gives it (`is_current_id`)."""
    if done.empty:
        return done, 0
    hashes = done.get("trainer_hash", pd.Series(None, index=done.index, dtype=object)).fillna("").astype(str)
    ours = ~data_known(done) | (hashes == trainer)
    unknown = (hashes == "") & ~ours
    if trainer and unknown.any():
        ours[unknown] = [is_current_id(row) for row in done[unknown].to_dict("records")]
    return done[ours], int((~ours).sum())
