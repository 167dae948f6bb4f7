"""Data stage: archive extraction, sources, tokenizers, the content-hashed cache, the sampler."""

from __future__ import annotations

import io
import json
import tarfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mixsearch.data import prepare as prep
from mixsearch.data.fetch import archive_members, fetch_all, fetch_domain
from mixsearch.data.sampler import MixtureSampler, Prefetcher, eval_windows
from mixsearch.data.scratch import LOCK, PREFIX, scratch_dir
from mixsearch.data.tokenizer import BPETokenizer, ByteTokenizer
from mixsearch.errors import UserError
from mixsearch.recipe.schema import Domain, parse_recipe


def _recipe(d: dict):
    return parse_recipe(d, "test.yaml")


def test_byte_tokenizer_round_trips_utf8():
    tok = ByteTokenizer()
    ids = tok.encode("héllo, мир")
    assert ids.max() < 256 and bytes(ids.astype(np.uint8)).decode() == "héllo, мир"


def test_prepare_caches_by_content_and_invalidates_on_change(recipe_dict, tmp_path, text_root, monkeypatch):
    calls = Counter()
    real = prep._tokenize

    def counting(recipe, domain, *a, **k):
        calls[domain.name] += 1
        return real(recipe, domain, *a, **k)

    monkeypatch.setattr(prep, "_tokenize", counting)
    news = tmp_path / "news"
    news.mkdir()
    (news / "a.txt").write_text((text_root / "news" / "NEWS.txt").read_text())
    recipe_dict["domains"][2]["source"] = {"files": [str(news / "*.txt")]}
    first = prep.prepare(_recipe(recipe_dict))
    assert set(calls) == {"code", "docs", "news"}
    for dt in first.domains.values():
        assert dt.train_tokens > 10 * dt.val_tokens / 2 > 0
        assert len(dt.train()) == dt.train_tokens and dt.train().dtype == np.uint16
    again = prep.prepare(_recipe(recipe_dict))
    assert again == first and sum(calls.values()) == 3  # nothing re-tokenized
    (news / "a.txt").write_text("changed text " * 500)
    changed = prep.prepare(_recipe(recipe_dict))
    assert calls["news"] == 2 and calls["code"] == 1
    assert changed.data_hash != first.data_hash
    assert changed.domains["news"].index != first.domains["news"].index


def test_bpe_tokenizer_trains_locally(recipe_dict):
    from pydoc_data.topics import topics

    recipe_dict["tokenizer"] = {"kind": "bpe", "vocab_size": 400, "train_bytes": 200_000}
    data = prep.prepare(_recipe(recipe_dict))
    assert data.vocab_size == 400 and data.eot < 400
    tok_files = list((Path(recipe_dict["data"]["cache_dir"]) / "tokenizers").glob("*.json"))
    assert len(tok_files) == 1
    prose = topics["if"]
    assert len(BPETokenizer(tok_files[0]).encode(prose)) < 0.7 * len(ByteTokenizer().encode(prose))


def test_jsonl_and_parquet_sources(recipe_dict, tmp_path):
    rows = [{"text": f"document number {i} " * 40} for i in range(50)]
    (tmp_path / "d.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    pd.DataFrame({"body": [r["text"] for r in rows]}).to_parquet(tmp_path / "d.parquet")
    recipe_dict["domains"][0]["source"] = {"jsonl": str(tmp_path / "d.jsonl")}
    recipe_dict["domains"][1]["source"] = {"parquet": str(tmp_path / "d.parquet"), "column": "body"}
    data = prep.prepare(_recipe(recipe_dict))
    assert data.domains["code"].train_tokens + data.domains["code"].val_tokens == sum(
        len(r["text"]) + 1 for r in rows)
    recipe_dict["domains"][1]["source"]["column"] = "missing"
    with pytest.raises(UserError, match="domain docs: source: .*no column 'missing'"):
        prep.prepare(_recipe(recipe_dict))


def test_missing_source_and_tiny_domain_are_user_errors(recipe_dict, tmp_path):
    recipe_dict["domains"][0]["source"] = {"files": [str(tmp_path / "nowhere" / "*.txt")]}
    with pytest.raises(UserError, match="domain code: source: no files match"):
        prep.prepare(_recipe(recipe_dict))
    (tmp_path / "tiny.txt").write_text("too short")
    recipe_dict["domains"][0]["source"] = {"files": [str(tmp_path / "tiny.txt")]}
    with pytest.raises(UserError, match="domain code: only .* a context of 32 needs"):
        prep.prepare(_recipe(recipe_dict))


def test_sampler_draws_domains_in_proportion():
    arrays = {"a": np.full(1000, 1, np.uint16), "b": np.full(1000, 2, np.uint16), "c": np.full(1000, 3, np.uint16)}
    sampler = MixtureSampler(arrays, {"a": 0.6, "b": 0.3, "c": 0.1}, context=8, batch_size=500, seed=0)
    x, y = sampler.batch()
    assert x.shape == (500, 8) and y.shape == (500, 8)
    share = np.bincount(x[:, 0].numpy(), minlength=4)[1:] / 500
    assert np.allclose(share, [0.6, 0.3, 0.1], atol=0.06)
    zero = MixtureSampler(arrays, {"a": 0.0, "b": 1.0, "c": 0.0}, context=8, batch_size=64, seed=0)
    assert set(zero.batch()[0].flatten().tolist()) == {2}
    w = eval_windows(np.arange(1000, dtype=np.uint16), 16, 160)
    assert w.shape == (10, 17) and torch_equal_rows(w)


def test_prefetcher_yields_the_samplers_batches_in_order():
    arrays = {"a": np.arange(500, dtype=np.uint16)}
    ref = MixtureSampler(arrays, {"a": 1.0}, context=8, batch_size=4, seed=3)
    pre = Prefetcher(MixtureSampler(arrays, {"a": 1.0}, context=8, batch_size=4, seed=3).batch, count=10, depth=2)
    for _ in range(10):
        (x1, y1), (x2, y2) = ref.batch(), pre.batch()
        assert (x1 == x2).all() and (y1 == y2).all()


def torch_equal_rows(w) -> bool:
    return bool(((w[:, 1:] - w[:, :-1]) == 1).all())


def _wheel(path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)


def test_archive_members_of_zip_and_tar(tmp_path):
    _wheel(tmp_path / "p-1.0-py3-none-any.whl", {"pkg/a.py": b"print(1)\n", "pkg/data/b.txt": b"hello"})
    assert dict(archive_members(tmp_path / "p-1.0-py3-none-any.whl"))["pkg/data/b.txt"] == b"hello"
    with tarfile.open(tmp_path / "p-1.0.tar.gz", "w:gz") as tar:
        info = tarfile.TarInfo("p-1.0/texts/x.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"abc"))
    assert list(archive_members(tmp_path / "p-1.0.tar.gz")) == [("p-1.0/texts/x.txt", b"abc")]


def test_fetch_extracts_capped_text_atomically(tmp_path, monkeypatch):
    """fetch_domain with the download replaced by a local wheel: include/exclude, chitchat format, cap."""
    convo = {"c1": {"messages": [[{"text": "Hi"}, {"text": "there"}], [{"text": "hello"}]]},
             "c2": {"messages": [[{"text": "bye"}]]}}
    wheel = tmp_path / "dl" / "chat-1.0-py3-none-any.whl"
    wheel.parent.mkdir()
    _wheel(wheel, {"chat/dataset.json": json.dumps(convo).encode(), "chat/tests/x.json": b"{}"})
    from mixsearch.data import fetch as fetch_mod

    monkeypatch.setattr(fetch_mod, "_download_pip", lambda spec, dest: [wheel])
    dom = Domain.model_validate({"name": "chat", "fetch": {"pip": "chat==1.0", "include": ["chat/*.json"],
                                                          "exclude": ["*/tests/*"], "format": "chitchat"}})
    out = tmp_path / "raw" / "chat"
    manifest = fetch_domain(dom, out, tmp_path / "downloads")
    texts = sorted(p.read_text() for p in out.glob("*.txt"))
    assert texts == ["Hi there\nhello", "bye"] and manifest["documents"] == 2
    dom2 = Domain.model_validate({**dom.model_dump(), "fetch": {**dom.fetch.model_dump(), "max_bytes": 5}})
    fetch_domain(dom2, out, tmp_path / "downloads")
    assert sum(len(p.read_bytes()) for p in out.glob("*.txt")) == 5
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temp dirs left


def test_fetch_removes_what_a_killed_fetch_left(recipe_dict):
    raw = Path(recipe_dict["data"]["raw_dir"])
    dead = raw / f"{PREFIX}chat-0123"  # a killed fetch's scratch directory: its lock file is free
    dead.mkdir(parents=True)
    dead.with_name(dead.name + LOCK).touch()
    with scratch_dir(raw, "live") as live:
        assert fetch_all(parse_recipe(recipe_dict, "r")) == {}
        assert live.exists() and not dead.exists() and not dead.with_name(dead.name + LOCK).exists()


@pytest.mark.parametrize("text", ["[1, 2, 3]", "{}", '{"shards": [{"path": "x"}]}', "not json {",
                                  '{"shards": [], "train_tokens": "many", "val_tokens": 1, "max_id": 3}'])
def test_a_damaged_token_index_is_made_again_with_a_warning(recipe_dict, capsys, text):
    first = prep.prepare(_recipe(recipe_dict))
    index = Path(first.domains["news"].index)
    index.write_text(text)
    capsys.readouterr()
    again = prep.prepare(_recipe(recipe_dict))
    assert f"warning: {index}: " in capsys.readouterr().err
    assert again == first and len(again.domains["news"].train()) == first.domains["news"].train_tokens
