"""Shared fixtures: real text from the Python standard library, tiny recipes, one Ray instance."""

from __future__ import annotations

import copy
import fcntl
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from typing import Callable

import pytest
import yaml

STDLIB = Path(sysconfig.get_paths()["stdlib"])
TRAINERS = Path(__file__).parent / "trainers"  # command trainers the tests run


@pytest.fixture(scope="session")
def text_root(tmp_path_factory) -> Path:
    """Three real, different domains the interpreter ships: Python source, the language
    reference (pydoc topics), and IDLE's release notes plus the Python license."""
    from pydoc_data.topics import topics

    root = tmp_path_factory.mktemp("text")
    (root / "code").mkdir()
    for src in sorted((STDLIB / "json").glob("*.py")) + sorted((STDLIB / "email").glob("*.py"))[:12]:
        shutil.copy(src, root / "code" / f"{src.parent.name}_{src.name}.txt")
    (root / "docs").mkdir()
    for name, text in sorted(topics.items()):
        (root / "docs" / f"{name}.txt").write_text(text)
    (root / "news").mkdir()
    for rel in ("idlelib/NEWS.txt", "idlelib/README.txt", "LICENSE.txt"):
        shutil.copy(STDLIB / rel, root / "news" / Path(rel).name)
    return root


def base_recipe(text_root: Path, cache: Path) -> dict:
    return {
        "study": "tiny",
        "seed": 0,
        "domains": [{"name": n, "source": {"files": [str(text_root / n / "*.txt")]}} for n in ("code", "docs")]
        + [{"name": "news", "source": {"files": [str(text_root / "news" / "*")]}}],
        "data": {"cache_dir": str(cache), "raw_dir": str(cache / "raw"), "max_tokens_per_domain": 60000},
        "proxy": {
            "model": {"layers": 1, "width": 32, "heads": 2, "context": 32},
            "train": {"tokens": 4096, "batch_size": 8, "lr": 0.01, "warmup_steps": 2, "eval_tokens": 1024},
            "resources": {"num_cpus": 1, "retries": 1},
        },
        "objective": {"kind": "domain", "target": "docs"},
        "search": {"initial_runs": 6, "batch_size": 2, "rounds": 1, "candidates": 2000, "top_k": 16, "cv_folds": 3},
    }


@pytest.fixture
def recipe_dict(text_root: Path, tmp_path: Path) -> dict:
    return copy.deepcopy(base_recipe(text_root, tmp_path / "cache"))


def write_recipe(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path

IMPORTED_DOMAINS = ("web", "code", "books")


def imported_study(tmp: Path, study: str) -> Path:
    """A fit-only study's recipe in `tmp` and its runs in tmp/runs.csv, to import: twelve mixtures
    of three domains, four of them with three seeds (so a fit measures a noise floor)."""
    import numpy as np
    import pandas as pd

    recipe = write_recipe(tmp / "r.yaml", {
        "study": study, "domains": [{"name": n, "tokens": t} for n, t in zip(IMPORTED_DOMAINS, (6e9, 3e9, 1e9))],
        "objective": {"kind": "domain", "target": "web"},
        "search": {"candidates": 2000, "top_k": 8, "cv_folds": 3, "batch_size": 2}})
    rng = np.random.default_rng(0)
    W = np.repeat(rng.dirichlet(np.ones(3), size=16), [3] * 4 + [1] * 12, axis=0)
    loss = 3 + (W[:, 0] - 0.5) ** 2 + 0.1 * W[:, 2] + rng.normal(0, 0.01, len(W))
    pd.DataFrame({**{f"w_{d}": W[:, j] for j, d in enumerate(IMPORTED_DOMAINS)}, "loss_web": loss,
                  "seed": np.arange(len(W))}).to_csv(tmp / "runs.csv", index=False)
    return recipe


def cli(*args: str, cwd: Path, check: bool = True, env: dict[str, str] | None = None,
        **popen) -> subprocess.CompletedProcess[str]:
    """Run `python -m mixsearch ARGS` as a user would (`env`: extra variables); `check` asserts exit code 0."""
    env = {**os.environ, "COLUMNS": "200", **(env or {})}
    res = subprocess.run([sys.executable, "-m", "mixsearch", *args], cwd=cwd, env=env,
                         capture_output=True, text=True, timeout=600, **popen)
    if check and res.returncode:
        raise AssertionError(f"mixsearch {' '.join(args)} exited {res.returncode}:\n{res.stderr[-3000:]}")
    return res


def made_once(tmp_path_factory: pytest.TempPathFactory, name: str, make: Callable[[Path], dict]) -> dict:
    """`make(folder)`, a JSON document, made once per test session: the workers of `pytest -n`
    share it (the first makes it in the session's folder while the others wait on its lock)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return make(tmp_path_factory.mktemp(name))
    session = tmp_path_factory.getbasetemp().parent  # above each worker's own folder
    made = session / f"{name}.json"
    with open(session / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not made.exists():
            doc = make(Path(tempfile.mkdtemp(prefix=name, dir=session)))
            made.with_suffix(".part").write_text(json.dumps(doc))
            made.with_suffix(".part").rename(made)
    return json.loads(made.read_text())


@pytest.fixture(scope="session")
def fit_only_documents(tmp_path_factory, text_root) -> dict:
    """`documents.fit_only`: a fit-only study's documents, a replay's and data prepare's."""
    from tests import documents

    return made_once(tmp_path_factory, "fit-only-documents", lambda folder: documents.fit_only(folder, text_root))


@pytest.fixture(scope="session")
def trained_documents(tmp_path_factory, text_root) -> dict:
    """`documents.trained`: a study of tiny proxies driven by the commands a user runs, their outputs."""
    from tests import documents

    return made_once(tmp_path_factory, "trained-documents", lambda folder: documents.trained(folder, text_root))


@pytest.fixture(scope="module")
def ray_local():
    """One embedded Ray instance for the tests that schedule in-process, started as commands do."""
    from mixsearch.execute import schedule

    saved = dict(os.environ)
    schedule.connect(num_cpus=2)
    import ray

    yield ray
    schedule.shutdown()
    os.environ.clear()
    os.environ.update(saved)  # connect's Ray settings must not leak into commands other tests start


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files with end-to-end (`slow`) tests first, each file's tests in their order: with one file
    per worker at a time (`--dist loadfile`), the files left when a worker frees up are then quick
    ones, and the workers finish together instead of one waiting on the other's long file."""
    heavy = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in heavy)
