"""Tokenizer processes: a capped domain over many shards finishes, a killed prepare leaves no
work behind for long (its scratch directory is removed by the next prepare), and its workers end
quietly with it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest

from mixsearch.data import prepare as prep
from mixsearch.data.scratch import LEGACY_QUIET_S, LOCK, PREFIX, remove_abandoned, scratch_dir
from mixsearch.data.workpool import WorkerDied, ordered_map
from mixsearch.recipe import parse_recipe
from tests.conftest import STDLIB, base_recipe, cli, write_recipe

HANG_GUARD_S = 300  # a prepare of a few MB on a busy machine
EXIT_GUARD_S = 120  # workers ending after their parent

SCRIPT = """
import json, sys
from mixsearch.data import prepare as prep, stream
from mixsearch.recipe import parse_recipe

if __name__ == "__main__":
    stream.SHARD_BYTES = int(sys.argv[2])
    recipe = json.loads(sys.argv[1])
    for cache in sys.argv[3:]:
        recipe["data"]["cache_dir"] = cache
        data = prep.prepare(parse_recipe(recipe, "r"), options=prep.PrepareOptions(workers=2))
        print(json.dumps({n: [d.train_tokens, d.val_tokens] for n, d in data.domains.items()}), flush=True)
"""


def _stdlib_recipe(text_root: Path, cache: Path, cap: int | None, patterns: list[str]) -> dict:
    """The tiny recipe with a large `code` domain: the interpreter's own Python files."""
    r = base_recipe(text_root, cache)
    r["domains"][0]["source"] = {"files": [str(STDLIB / p) for p in patterns]}
    r["data"]["max_tokens_per_domain"] = cap
    return r


def _script(tmp_path: Path, recipe: dict, shard_bytes: int, caches: list[Path], **popen) -> subprocess.Popen:
    path = tmp_path / "prepare_script.py"
    path.write_text(SCRIPT)
    return subprocess.Popen([sys.executable, str(path), json.dumps(recipe), str(shard_bytes), *map(str, caches)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)


def test_capped_domain_over_several_shards_finishes_with_two_workers(text_root, tmp_path):
    """Leaving the workers at the token cap while one was sending a shard's tokens deadlocked the
    process pool's shutdown (0% CPU, forever); several prepares in a row each finish now."""
    cap = 300_000
    recipe = _stdlib_recipe(text_root, tmp_path / "unused", cap, ["*.py"])
    caches = [tmp_path / f"c{i}" for i in range(8)]
    proc = _script(tmp_path, recipe, 1 << 18, caches)
    try:
        stdout, stderr = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr[-3000:]
    sizes = [json.loads(line) for line in stdout.splitlines()]
    assert len(sizes) == len(caches) and all(s == sizes[0] for s in sizes)
    assert sum(sizes[0]["code"]) == cap

    def tokens(cache: Path, workers: int) -> np.ndarray:
        data = prep.prepare(parse_recipe({**recipe, "data": {**recipe["data"], "cache_dir": str(cache)}}, "r"),
                            options=prep.PrepareOptions(workers=workers))
        return np.concatenate([data.domains["code"].train()[:], data.domains["code"].val()[:]])

    assert np.array_equal(tokens(caches[0], 2), tokens(tmp_path / "one", 1))  # the cached shards, in order


def _scratch(cache: Path) -> list[Path]:
    return [p for p in (cache / "tokens").glob(PREFIX + "*") if p.is_dir()]


def _wait_for(what, proc: subprocess.Popen):
    """what()'s first true value, polled while `proc` runs."""
    deadline = time.monotonic() + HANG_GUARD_S
    while time.monotonic() < deadline:
        if found := what():
            return found
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} first: {proc.communicate()[1][-3000:]}")
        time.sleep(0.02)
    raise AssertionError("timed out waiting")


def _workers(pid: int) -> int:
    """How many worker processes `pid` has spawned."""
    found = 0
    for child in psutil.Process(pid).children():
        try:
            found += "spawn_main" in " ".join(child.cmdline())
        except psutil.NoSuchProcess:
            pass
    return found


def _slow_recipe(text_root: Path, cache: Path) -> dict:
    """About 20 MB of Python source under a locally trained BPE: seconds of tokenizing."""
    r = _stdlib_recipe(text_root, cache, None, ["*.py", "test/*.py"])
    r["tokenizer"] = {"kind": "bpe", "vocab_size": 512, "train_bytes": 200_000}
    return r


def test_killed_prepare_leaves_workers_quiet_and_the_next_cleans_its_scratch(text_root, tmp_path):
    cache = tmp_path / "cache"
    recipe = _slow_recipe(text_root, cache)
    proc = _script(tmp_path, recipe, 1 << 19, [cache])
    workers: list[psutil.Process] = []
    try:
        scratch = _wait_for(lambda: [d for d in _scratch(cache) if any(d.glob("shard-*.bin"))], proc)
        workers = psutil.Process(proc.pid).children(recursive=True)
        proc.kill()  # SIGKILL mid-tokenize: nothing of the parent runs
        _, stderr = proc.communicate(timeout=EXIT_GUARD_S)  # ends when every worker closed its stderr
    finally:
        for w in workers:
            if w.is_running():
                w.kill()
        proc.kill()
    assert len(workers) >= 2
    assert "Traceback" not in stderr and "Error" not in stderr, stderr[-3000:]
    assert [d.exists() for d in scratch] == [True]  # left behind by the killed prepare...
    small = base_recipe(text_root, cache)  # another recipe, the same cache
    data = prep.prepare(parse_recipe(small, "r"), options=prep.PrepareOptions(workers=2))
    assert not scratch[0].exists() and not scratch[0].with_name(scratch[0].name + LOCK).exists()  # ...removed
    assert _scratch(cache) == [] and data.domains["code"].train_tokens > 0


def test_terminated_prepare_command_removes_its_scratch_and_exits_143(text_root, tmp_path):
    cache = tmp_path / "cache"
    path = write_recipe(tmp_path / "r.yaml", _slow_recipe(text_root, cache))
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "data", "prepare", str(path), "--workers", "2"],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        scratch = _wait_for(lambda: _scratch(cache), proc)
        _wait_for(lambda: _workers(proc.pid) >= 2, proc)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        proc.kill()
    assert proc.returncode == 143, stderr[-3000:]
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr, stderr[-3000:]
    assert not scratch[0].exists() and _scratch(cache) == [] and not list((cache / "tokens").glob("*" + LOCK))


def test_only_scratch_directories_of_dead_writers_are_removed(tmp_path):
    dead = tmp_path / f"{PREFIX}code-abc"  # as a killed writer leaves it: its lock file, no lock held
    dead.mkdir()
    (dead / "shard-00000.bin").write_bytes(b"\0\0")
    dead.with_name(dead.name + LOCK).touch()
    foreign = tmp_path / f"{PREFIX}notes"  # no lock file: not a scratch directory of ours
    foreign.mkdir()
    with scratch_dir(tmp_path, "docs") as live:
        (live / "shard-00000.bin").write_bytes(b"\0\0")
        assert remove_abandoned(tmp_path) == [dead]
        assert live.exists() and foreign.exists() and not dead.exists()
        assert not dead.with_name(dead.name + LOCK).exists()
    assert not live.exists() and not live.with_name(live.name + LOCK).exists()
    with pytest.raises(KeyError), scratch_dir(tmp_path, "news") as failed:
        raise KeyError("any error")
    assert not failed.exists() and sorted(tmp_path.iterdir()) == [foreign]


def _divide(a: int, b: int) -> float:
    return a / b


def _exit_at(a: int, b: int) -> float:
    if b == 0:
        os._exit(3)  # as the kernel's out-of-memory killer would end it
    return a / b


def test_ordered_map_keeps_order_and_raises_the_workers_error_or_death():
    tasks = [(i, 1 + i % 3) for i in range(20)]
    assert list(ordered_map(_divide, tasks, workers=2)) == [a / b for a, b in tasks]
    with pytest.raises(ZeroDivisionError):
        list(ordered_map(_divide, [(1, 1), (1, 0), (2, 1)], workers=2))
    with pytest.raises(WorkerDied, match="exit code 3"):
        list(ordered_map(_exit_at, [(1, 1), (1, 0), (2, 1)], workers=2))


def test_prepare_removes_unlocked_scratch_directories_of_the_older_naming_once_quiet(recipe_dict):
    """Before scratch directories were locked, a prepare tokenized into `.<domain>-XXXXXXXX`
    (tempfile.mkdtemp) beside the cache entry; one left by a killed prepare goes once nothing in it
    changed for LEGACY_QUIET_S, and one that may still be written, or is not named for a domain, stays."""
    recipe = parse_recipe(recipe_dict, "r")
    tokens = Path(recipe.data.cache_dir) / "tokens"
    past = time.time() - 2 * LEGACY_QUIET_S

    def left(name: str, quiet: bool, shard_quiet: bool) -> Path:
        path = tokens / name
        path.mkdir(parents=True)
        (path / "shard-00000.bin").write_bytes(b"\0\0")
        for p, old in ((path / "shard-00000.bin", shard_quiet), (path, quiet)):
            if old:
                os.utime(p, (past, past))
        return path

    abandoned = [left(".docs-k2x_9aqz", True, True), left(".news-0abcdefg", True, True)]
    writing = left(".code-abcd1234", True, False)  # a shard written just now
    fresh = left(".docs-zzzz0000", False, False)
    foreign = left(".notes-abcd1234", True, True)  # no domain of the recipe: not ours
    other = left(".docs-abc", True, True)  # not mkdtemp's name
    prep.prepare(recipe, options=prep.PrepareOptions(workers=1))
    assert not any(p.exists() for p in abandoned)
    assert writing.exists() and fresh.exists() and foreign.exists() and other.exists()
