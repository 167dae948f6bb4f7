"""Ray scheduling: many runs, retries of runs that raise, failures recorded, no duplicates."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mixsearch.execute import schedule
from mixsearch.data.prepare import prepare
from mixsearch.proxy.spec import RunSpec
from mixsearch.proxy.train import train_proxy
from mixsearch.recipe.schema import parse_recipe
from mixsearch.recipe.proxy import Resources
from mixsearch.search.study import Study
from mixsearch.search.launch import launch


@pytest.fixture
def study(recipe_dict, tmp_path, ray_local):
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    recipe_dict["search"]["initial_runs"] = 8
    return Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "runs")


@pytest.fixture
def tiny_data(recipe_dict):
    return prepare(parse_recipe(recipe_dict, "t.yaml"))


def _flaky(marker_dir: str, fail_ids: set[str], always_fail: set[str]):
    """A training function that raises on the first attempt of some runs (and on every attempt of others)."""

    def run(spec: dict, data: dict) -> dict:
        attempts = Path(marker_dir) / spec["run_id"]
        with attempts.open("a") as fh:
            fh.write("x")
        if spec["run_id"] in always_fail:
            raise RuntimeError("worker lost its disk")
        if spec["run_id"] in fail_ids and len(attempts.read_text()) == 1:
            raise RuntimeError("injected failure")
        return train_proxy(spec, data)

    return run


def test_eight_runs_with_a_retried_failure(study, tmp_path):
    assert study.seed_initial() == 8
    ids = sorted(study.unfinished()["run_id"])
    marks = tmp_path / "marks"
    marks.mkdir()
    counts = launch(study, fn=_flaky(str(marks), {ids[0]}, {ids[1]}))
    assert counts == {"done": 7, "failed": 1}
    attempts = {p.name: len(p.read_text()) for p in marks.iterdir()}
    assert attempts[ids[0]] == 2  # failed once, retried, succeeded
    assert attempts[ids[1]] == 1 + study.recipe.proxy.resources.retries
    view = study.store.runs()
    assert len(view) == 8 and view["run_id"].is_unique
    row = view.set_index("run_id").loc
    assert row[ids[0], "status"] == "done" and np.isfinite(row[ids[0], "objective"])
    assert row[ids[1], "status"] == "failed" and "worker lost its disk" in row[ids[1], "error"]
    done = view[view["status"] == "done"]
    assert (done["objective"] == done["loss_docs"]).all() and done["host"].notna().all()


def test_rerun_is_idempotent(study, tmp_path):
    study.seed_initial()
    launch(study)
    first = study.store.runs()
    assert study.seed_initial() == 0  # same seed, same mixtures, same run ids
    assert launch(study) == {"done": 0, "failed": 0}
    again = study.store.runs()
    assert len(again) == len(first) == 8
    assert set(again["run_id"]) == set(first["run_id"])


def test_ensembles_through_ray(recipe_dict, tmp_path, ray_local):
    recipe_dict["proxy"]["resources"]["ensemble"] = 4
    ens = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "ens")
    ens.seed_initial()
    assert launch(ens) == {"done": 6, "failed": 0}
    view = ens.store.runs()
    assert sorted(view["ensemble"]) == [2, 2, 4, 4, 4, 4]  # 6 runs: a group of 4 and a group of 2
    assert view["run_id"].is_unique and (view["status"] == "done").all()
    assert np.allclose(view["cpu_hours"] * view["ensemble"] * 3600, view["wall_time"])  # a task's cost, split
    recipe_dict["proxy"]["resources"]["ensemble"] = 1
    solo = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "solo")
    solo.seed_initial()
    launch(solo)
    a = ens.store.runs().set_index("run_id").sort_index()
    b = solo.store.runs().set_index("run_id").sort_index()
    assert list(a.index) == list(b.index)  # same runs, same ids
    assert np.allclose(a["objective"], b["objective"], rtol=2e-3)  # same results, up to float reordering


def _fake_result(spec: dict, size: int) -> dict:
    import os

    return {"status": "done", "losses": {"docs": 1.0}, "ensemble": size, "host": str(os.getpid()), "error": None}


def _oom_above_two(specs: list[dict], data: dict) -> list[dict]:
    """An ensemble trainer whose device holds at most two members."""
    import torch

    if len(specs) > 2:
        raise torch.OutOfMemoryError("CUDA out of memory (injected)")
    return [_fake_result(s, len(specs)) for s in specs]


def _specs(n: int) -> list[RunSpec]:
    return [RunSpec(f"r{i}", {"docs": 1.0}, i, {}, {}) for i in range(n)]


def test_out_of_memory_halves_the_ensemble_instead_of_failing(tiny_data, ray_local):
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    got = {}
    groups = [_specs(8)[:5], _specs(8)[5:]]  # ensembles of 5 and 3
    schedule.execute(groups, tiny_data, Resources(num_cpus=1, retries=0), lambda s, r: got.setdefault(s.run_id, r),
                     fn=lambda spec, data: _fake_result(spec, 1), ensemble_fn=_oom_above_two)
    assert sorted(got) == [f"r{i}" for i in range(8)]  # every run trained, none failed, with retries=0
    assert all(r["status"] == "done" for r in got.values())
    assert sorted(r["ensemble"] for r in got.values()) == [1, 1, 2, 2, 2, 2, 2, 2]  # 5 -> 2+3 -> 2+1+2, 3 -> 1+2


def test_runs_go_to_warm_workers_that_outlive_a_launch(tiny_data, ray_local):
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    hosts: list[str] = []
    for _ in range(2):
        schedule.execute([[s] for s in _specs(6)], tiny_data, Resources(num_cpus=1),
                         lambda s, r: hosts.append(r["host"]), fn=lambda spec, data: _fake_result(spec, 1))
    assert len(hosts) == 12 and len(set(hosts)) <= 2  # 12 runs, on the two workers 2 CPUs hold


def test_ensemble_auto_is_measured_on_a_worker(recipe_dict, tmp_path, ray_local):
    recipe_dict["proxy"]["resources"]["ensemble"] = "auto"
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "auto")
    study.seed_initial()
    assert launch(study, max_runs=2) == {"done": 2, "failed": 0}
    done = study.store.runs().dropna(subset=["ensemble"])
    assert len(done) == 2 and (done["ensemble"] == 1).all()  # a CPU worker: one run per task
    assert (done["tokens_per_s"] > 0).all() and (done["wall_time"] > 0).all() and (done["compile_s"] == 0).all()


def _die(*_: object) -> int:
    """An `ensemble: auto` probe whose worker process dies under it."""
    import os
    import signal

    os.kill(os.getpid(), signal.SIGKILL)
    return 4


def test_a_dead_ensemble_probe_worker_falls_back_to_one_run_per_task(recipe_dict, tmp_path, ray_local, monkeypatch,
                                                                     capsys):
    from mixsearch.proxy import sizing

    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    monkeypatch.setattr(sizing, "auto_ensemble", _die)
    recipe_dict["proxy"]["resources"].update({"ensemble": "auto", "retries": 0})
    study = Study.open(parse_recipe(recipe_dict, "t.yaml"), tmp_path / "auto")
    study.seed_initial()
    assert launch(study, max_runs=2) == {"done": 2, "failed": 0}  # not on the dead worker: no retry was needed
    done = study.store.runs().dropna(subset=["ensemble"])
    assert len(done) == 2 and (done["ensemble"] == 1).all()
    warning = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("warning:")]
    assert len(warning) == 1 and "proxy.resources.ensemble" in warning[0] and "died" in warning[0]


def _kill_worker_on(run_id: str):
    def run(spec: dict, data: dict) -> dict:
        import os
        import signal

        if spec["run_id"] == run_id:
            os.kill(os.getpid(), signal.SIGKILL)
        return _fake_result(spec, 1)

    return run


def test_runs_waiting_behind_one_that_kills_its_worker_spend_no_retry(tiny_data, ray_local):
    """Each worker is sent its next group before its last one ends; when a run kills its worker,
    the group waiting behind it (r2 is sent to r0's worker right after it) is retried for free:
    with no retries, only the killer fails."""
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    got: dict = {}
    schedule.execute([[s] for s in _specs(6)], tiny_data, Resources(num_cpus=1, retries=0),  # the file's pool
                     lambda s, r: got.setdefault(s.run_id, r), fn=_kill_worker_on("r0"))
    assert sorted(got) == [f"r{i}" for i in range(6)]
    assert got["r0"]["status"] == "failed"
    assert all(got[f"r{i}"]["status"] == "done" for i in range(1, 6))


def test_a_second_worker_shape_starts_where_the_first_shapes_idle_workers_hold_the_cpus(tiny_data, ray_local):
    """Two one-CPU workers hold both CPUs; a later call that wants two-CPU workers ends them instead
    of waiting for the CPUs forever (a hang turns into a failure after 300 s)."""
    import signal

    from mixsearch.execute.workers import WorkerPool

    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])

    def hung(*_: object) -> None:
        raise TimeoutError("the two-CPU worker never started")

    fake = lambda spec, data: _fake_result(spec, 1)  # noqa: E731
    got: list[str] = []
    schedule.execute([[s] for s in _specs(4)], tiny_data, Resources(num_cpus=1), lambda s, r: got.append(s.run_id),
                     fn=fake)
    assert len(WorkerPool.get(1, 0).actors) == 2
    before = signal.signal(signal.SIGALRM, hung)
    signal.alarm(300)
    try:
        schedule.execute([[s] for s in _specs(2)], tiny_data, Resources(num_cpus=2), lambda s, r: got.append(s.run_id),
                         fn=fake)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    assert len(got) == 6 and WorkerPool.get(1, 0).actors == [] and len(WorkerPool.get(2, 0).actors) == 1
