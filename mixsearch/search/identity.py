"""A run's identity and which stored runs are current: a run id hashes what its result depends on
(mixture, model, training, seed, data and a command trainer), and the runs of an older data hash
or of another trainer stay out of the fit."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import pandas as pd

from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.store.schema import WEIGHT

if TYPE_CHECKING:
    from mixsearch.search.fidelity import FidelityConfig
    from mixsearch.search.study import Study


class RunIdentity:
    """Study methods on run ids and the currency of stored runs (mixed into `Study`)."""

    @cached_property
    def trainer_identity(self: Study) -> dict | None:
        """A command trainer's identity (see `trainers.trainer_identity`); None for the built-in GPT."""
        from mixsearch.execute.trainers import trainer_identity

        trainer = self.recipe.proxy.trainer
        return None if trainer is None else trainer_identity(trainer)

    @cached_property
    def trainer_hash(self: Study) -> str:
        """A hash of the trainer identity, stored with each run ("" for the built-in GPT)."""
        return "" if self.trainer_identity is None else stable_hash(self.trainer_identity)

    def run_id(self: Study, mixture: dict[str, float], fid: FidelityConfig, seed: int | None = None) -> str:
        """Hash of what a run's result depends on: mixture, model, training, seed, data and, for a
        command trainer, the trainer (the built-in GPT's ids leave it out, as they always have)."""
        key = {"mixture": {k: round(v, 6) for k, v in mixture.items()}, "model": fid.model.model_dump(),
               "train": fid.train.model_dump(), "seed": self.recipe.seed if seed is None else seed,
               "data": self.data().data_hash}
        if self.trainer_identity is not None:
            key["trainer"] = self.trainer_identity
        return stable_hash(key)

    def current_data(self: Study, done: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        """The runs trained on the current data (or of unknown data, e.g. imported), and how
        many were trained on an older data hash."""
        if "data_hash" not in done or done.empty:
            return done, 0
        stale = self.data_known(done) & (done["data_hash"] != self.data().data_hash)
        return done[~stale], int(stale.sum())

    def current_trainer(self: Study, done: pd.DataFrame) -> tuple[pd.DataFrame, int]:
        """The runs of the recipe's current trainer (or of unknown data and trainer, e.g. imported),
        and how many another trainer trained. An empty trainer_hash is the built-in GPT's, or a
        run's stored before the column existed: under a command trainer such a run is its own
        when its id is the one the current trainer gives it."""
        if done.empty:
            return done, 0
        hashes = done.get("trainer_hash", pd.Series(None, index=done.index, dtype=object)).fillna("").astype(str)
        ours = ~self.data_known(done) | (hashes == self.trainer_hash)
        unknown = (hashes == "") & ~ours
        if self.trainer_hash and unknown.any():
            ours[unknown] = [self._is_current_id(row) for row in done[unknown].to_dict("records")]
        return done[ours], int((~ours).sum())

    @staticmethod
    def data_known(done: pd.DataFrame) -> pd.Series:
        """Whether each run records the data hash it was trained on (imported runs do not)."""
        if "data_hash" not in done:
            return pd.Series(False, index=done.index)
        return done["data_hash"].notna() & (done["data_hash"].astype(str) != "")

    def _is_current_id(self: Study, row: dict) -> bool:
        """Whether a run's id is the one the recipe's current trainer gives its mixture, fidelity and seed."""
        try:
            fid = self._fidelity_of(row)
        except UserError:
            return False
        mixture = {n: float(row[WEIGHT + n]) for n in self.recipe.domain_names}
        return row["run_id"] == self.run_id(mixture, fid, int(row["seed"]))
