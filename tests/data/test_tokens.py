"""Tokenizer files, pre-tokenized sources, uint32 ids, and streamed, sharded, parallel prepare."""

from __future__ import annotations

import json

import numpy as np
import pytest

from mixsearch.data import prepare as prep, stream
from mixsearch.data.prepare import PrepareOptions
from mixsearch.data.sampler import MixtureSampler
from mixsearch.errors import UserError
from mixsearch.recipe.schema import parse_recipe


def _all_tokens(dt) -> np.ndarray:
    return np.concatenate([dt.train()[:], dt.val()[:]])


def _one_file_domain(recipe_dict: dict, tmp_path, text: str) -> None:
    (tmp_path / "one").mkdir(exist_ok=True)
    (tmp_path / "one" / "a.txt").write_text(text)
    recipe_dict["domains"][2]["source"] = {"files": [str(tmp_path / "one" / "a.txt")]}


def test_tokenizer_file_round_trips(recipe_dict, tmp_path, text_root):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([p.read_text() for p in sorted((text_root / "docs").glob("*.txt"))[:40]],
                            trainers.BpeTrainer(vocab_size=600, special_tokens=["<|endoftext|>"], show_progress=False,
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    text = (text_root / "news" / "NEWS.txt").read_text()
    _one_file_domain(recipe_dict, tmp_path, text)
    recipe_dict["tokenizer"] = {"kind": "file", "path": str(path)}
    data = prep.prepare(parse_recipe(recipe_dict, "r"))
    eot = tok.token_to_id("<|endoftext|>")
    assert data.vocab_size == tok.get_vocab_size() and data.eot == eot
    expected = tok.encode(text, add_special_tokens=False).ids + [eot]
    assert _all_tokens(data.domains["news"]).tolist() == expected[:60000]

    tok.add_special_tokens(["<extra>"])  # same name, new content: a new cache entry
    tok.save(str(path))
    again = prep.prepare(parse_recipe(recipe_dict, "r"))
    assert again.data_hash != data.data_hash and again.vocab_size == data.vocab_size + 1
    recipe_dict["tokenizer"]["eos"] = "<nope>"
    with pytest.raises(UserError, match="tokenizer.eos: the tokenizer has no token '<nope>'"):
        prep.prepare(parse_recipe(recipe_dict, "r"))


def test_ids_above_65535_are_stored_as_uint32(recipe_dict, tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = [f"w{i}" for i in range(70_000)]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)} | {"</s>": 70_000}, unk_token="w0"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.save(str(tmp_path / "big.json"))
    rng = np.random.default_rng(0)
    _one_file_domain(recipe_dict, tmp_path, " ".join(words[i] for i in rng.integers(60_000, 70_000, 5000)))
    recipe_dict["tokenizer"] = {"kind": "file", "path": str(tmp_path / "big.json")}
    data = prep.prepare(parse_recipe(recipe_dict, "r"))
    news = data.domains["news"]
    assert news.dtype == "uint32" and data.eot == 70_000 and data.vocab_size == 70_001
    ids = _all_tokens(news)
    assert ids.dtype == np.uint32 and ids.max() == 70_000 and ids[:-1].min() >= 60_000
    sampler = MixtureSampler({"news": news.train()}, {"news": 1.0}, 32, 4, 0)
    x, _ = sampler.batch()
    assert int(x.max()) >= 65_536


def test_pre_tokenized_bin_and_npy_sources_are_used_as_they_are(recipe_dict, tmp_path):
    rng = np.random.default_rng(0)
    parts = [rng.integers(0, 257, n).astype(np.uint16) for n in (3000, 2000)]
    parts[0].tofile(tmp_path / "a.bin")
    parts[1].tofile(tmp_path / "b.bin")
    npy = rng.integers(0, 257, 2500).astype(np.uint32)
    np.save(tmp_path / "c.npy", npy)
    recipe_dict["domains"][0]["source"] = {"tokens": str(tmp_path / "*.bin"), "dtype": "uint16"}
    recipe_dict["domains"][1]["source"] = {"tokens": str(tmp_path / "c.npy")}
    data = prep.prepare(parse_recipe(recipe_dict, "r"))
    code, docs = data.domains["code"], data.domains["docs"]
    assert _all_tokens(code).tolist() == np.concatenate(parts).tolist()
    assert code.val_tokens == 500 and len(code.train()) == 4500
    assert code.train()[2990:3010].tolist() == np.concatenate(parts)[2990:3010].tolist()  # across files
    assert _all_tokens(docs).tolist() == npy.tolist() and docs.dtype == "uint32"
    index = json.loads(open(code.index).read())
    assert [s["path"] for s in index["shards"]] == [str(tmp_path / "a.bin"), str(tmp_path / "b.bin")]

    np.full(2000, 300, np.uint16).tofile(tmp_path / "b.bin")  # ids beyond the byte vocabulary
    with pytest.raises(UserError, match="domain code: token id 300 is outside the tokenizer's vocabulary of 257"):
        prep.prepare(parse_recipe(recipe_dict, "r"))


def _prepare_with(recipe_dict: dict, cache, **options):
    recipe_dict["data"]["cache_dir"] = str(cache)
    return prep.prepare(parse_recipe(recipe_dict, "r"), options=PrepareOptions(**options))


def test_parallel_sharded_prepare_equals_one_process(recipe_dict, tmp_path, text_root, monkeypatch):
    monkeypatch.setattr(stream, "SHARD_BYTES", 1 << 14)  # many shards; large files split at newlines
    rows = [{"text": f"row {i}: " + "é mixture " * (i % 40)} for i in range(3000)]
    (tmp_path / "rows.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    recipe_dict["domains"][1]["source"] = {"jsonl": str(tmp_path / "rows.jsonl")}
    recipe_dict["data"]["max_tokens_per_domain"] = None
    progress = []
    one = _prepare_with(recipe_dict, tmp_path / "c1", workers=1)
    many = _prepare_with(recipe_dict, tmp_path / "c2", workers=2, on_progress=lambda *a: progress.append(a))
    assert len(json.loads(open(many.domains["docs"].index).read())["shards"]) > 10
    for name in ("code", "docs", "news"):
        assert _all_tokens(one.domains[name]).tolist() == _all_tokens(many.domains[name]).tolist()
    assert len(_all_tokens(one.domains["docs"])) == sum(len(r["text"].encode()) + 1 for r in rows)
    news = sorted((text_root / "news").glob("*"))
    assert len(stream.plan(news, "files")) > len(news)  # the large files were split at newlines...
    assert len(_all_tokens(one.domains["news"])) == sum(p.stat().st_size for p in news) + len(news)  # ...one eot each
    done = {}
    for name, n, total in progress:
        done[name] = (n, total)
    assert all(n == total > 0 for n, total in done.values()) and set(done) == {"code", "docs", "news"}


def test_prepare_on_ray_tasks_equals_one_process(ray_local, recipe_dict, tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "SHARD_BYTES", 1 << 15)
    one = _prepare_with(recipe_dict, tmp_path / "c1", workers=1)
    on_ray = _prepare_with(recipe_dict, tmp_path / "c2", use_ray=True)
    for name in ("code", "docs", "news"):
        assert _all_tokens(one.domains[name]).tolist() == _all_tokens(on_ray.domains[name]).tolist()


def test_ray_tokenizing_stopped_early_cancels_nothing_and_leaves_only_its_window(ray_local, text_root, monkeypatch):
    """A cancel that meets a task finishing at that moment kills the driver inside Ray ("Tried to
    complete task that was not pending"), so tasks not taken are never cancelled. They are
    submitted a window ahead of the consumer, so stopping early leaves only that window to run out."""
    monkeypatch.setattr(stream, "SHARD_BYTES", 1 << 14)
    shards = stream.plan(sorted((text_root / "docs").glob("*.txt")), "files")
    window = 2 * int(ray_local.cluster_resources()["CPU"])
    assert len(shards) > window + 2
    cancelled, submitted = [], []
    monkeypatch.setattr(ray_local, "cancel", lambda ref, **kw: cancelled.append(ref))
    every = list(stream.tokenize_all(shards, "files", "text", {"kind": "byte"}, 1, True))
    assert len(every) == len(shards) and cancelled == []
    remote = ray_local.remote
    monkeypatch.setattr(ray_local, "remote", lambda fn: _Counting(remote(fn), submitted))
    first_two = stream.tokenize_all(shards, "files", "text", {"kind": "byte"}, 1, True)
    next(first_two), next(first_two)
    first_two.close()
    assert len(submitted) == window + 2 and cancelled == []


class _Counting:
    """A Ray remote function that records the refs of the tasks it submits."""

    def __init__(self, fn, refs: list) -> None:
        self.fn, self.refs = fn, refs

    def options(self, **kw) -> "_Counting":
        return _Counting(self.fn.options(**kw), self.refs)

    def remote(self, *args):
        self.refs.append(self.fn.remote(*args))
        return self.refs[-1]
