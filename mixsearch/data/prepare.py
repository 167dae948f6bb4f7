"""Tokenize each domain once into memory-mapped train/val arrays, cached by content hash."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from mixsearch.data.sources import effective_source, iter_documents, source_files
from mixsearch.data.tokenizer import BPETokenizer, ByteTokenizer, TextTokenizer
from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.recipe import Domain, Recipe

DTYPE = np.uint16


@dataclass(frozen=True)
class DomainTokens:
    """Where one domain's token arrays live, and how many tokens each holds."""

    name: str
    train_path: str
    val_path: str
    train_tokens: int
    val_tokens: int

    def train(self) -> np.ndarray:
        return np.memmap(self.train_path, dtype=DTYPE, mode="r", shape=(self.train_tokens,))

    def val(self) -> np.ndarray:
        return np.memmap(self.val_path, dtype=DTYPE, mode="r", shape=(self.val_tokens,))


@dataclass(frozen=True)
class PreparedData:
    """Token caches of a recipe's domains and eval sets; plain data, cheap to ship to Ray workers."""

    data_hash: str
    vocab_size: int
    eot: int
    domains: dict[str, DomainTokens]
    eval_sets: dict[str, DomainTokens]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreparedData":
        return cls(
            data_hash=d["data_hash"], vocab_size=d["vocab_size"], eot=d["eot"],
            domains={k: DomainTokens(**v) for k, v in d["domains"].items()},
            eval_sets={k: DomainTokens(**v) for k, v in d["eval_sets"].items()},
        )


def domain_content_hash(recipe: Recipe, domain: Domain) -> str:
    """Hash of a domain's source spec and the bytes of every file behind it."""
    h = hashlib.sha256(effective_source(recipe, domain).model_dump_json().encode())
    for path in source_files(recipe, domain):
        h.update(str(path).encode())
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:16]


def _tokenizer(recipe: Recipe, content: dict[str, str], cache: Path) -> tuple[TextTokenizer, str]:
    spec = recipe.tokenizer
    if spec.kind == "byte":
        return ByteTokenizer(), "byte"
    key = stable_hash({"tok": spec.model_dump(), "content": content})
    path = cache / "tokenizers" / f"bpe-{key}.json"
    if not path.exists():
        share = spec.train_bytes // len(recipe.domains)

        def sample():
            for domain in recipe.domains:
                used = 0
                for doc in iter_documents(recipe, domain):
                    yield doc[: share - used]
                    used += min(len(doc), share - used)
                    if used >= share:
                        break

        BPETokenizer.train(sample(), spec.vocab_size, path)
    return BPETokenizer(path), f"bpe-{key}"


def _tokenize(recipe: Recipe, domain: Domain, tok: TextTokenizer, out: Path, val_only: bool) -> tuple[int, int]:
    """Tokenize docs in a stable shuffled order; the last val_fraction of tokens is validation."""
    docs = sorted(iter_documents(recipe, domain), key=lambda d: hashlib.sha1(d.encode()).digest())
    eot = np.asarray([tok.eot], dtype=DTYPE)
    parts = []
    total = 0
    cap = recipe.data.max_tokens_per_domain
    for doc in docs:
        ids = tok.encode(doc)
        parts.extend([ids, eot])
        total += len(ids) + 1
        if cap and total >= cap:
            break
    tokens = np.concatenate(parts)[:cap] if parts else np.zeros(0, dtype=DTYPE)
    n_val = len(tokens) if val_only else int(len(tokens) * recipe.data.val_fraction)
    split = len(tokens) - n_val
    tokens[:split].tofile(out / "train.bin")
    tokens[split:].tofile(out / "val.bin")
    return split, n_val


def _prepare_one(recipe: Recipe, domain: Domain, tok: TextTokenizer, tok_id: str, content: str,
                 cache: Path, val_only: bool) -> DomainTokens:
    key = stable_hash({"content": content, "tok": tok_id, "val_fraction": recipe.data.val_fraction,
                       "max_tokens": recipe.data.max_tokens_per_domain, "val_only": val_only})
    final = cache / "tokens" / f"{domain.name}-{key}"
    meta_path = final / "meta.json"
    if not meta_path.exists():
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{domain.name}-", dir=final.parent))
        n_train, n_val = _tokenize(recipe, domain, tok, tmp, val_only)
        (tmp / "meta.json").write_text(json.dumps({"train_tokens": n_train, "val_tokens": n_val}))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    meta = json.loads(meta_path.read_text())
    return DomainTokens(domain.name, str(final / "train.bin"), str(final / "val.bin"),
                        meta["train_tokens"], meta["val_tokens"])


def _check_size(dt: DomainTokens, context: int, kind: str) -> None:
    need = context + 1
    if dt.val_tokens < need or (kind == "domain" and dt.train_tokens < need):
        raise UserError(
            f"only {dt.train_tokens} train / {dt.val_tokens} validation tokens; "
            f"a context of {context} needs at least {need} of each",
            where=f"{kind} {dt.name}",
        )


def prepare(recipe: Recipe, on_domain=None) -> PreparedData:
    """Tokenize (or reuse cached tokens of) every domain and eval set of the recipe."""
    cache = Path(recipe.data.cache_dir)
    everything = [*recipe.domains, *recipe.eval_sets]
    content = {d.name: domain_content_hash(recipe, d) for d in everything}
    tok, tok_id = _tokenizer(recipe, {d.name: content[d.name] for d in recipe.domains}, cache)
    context = recipe.proxy.model.context
    out: dict[str, dict[str, DomainTokens]] = {"domain": {}, "eval_set": {}}
    for kind, group in (("domain", recipe.domains), ("eval_set", recipe.eval_sets)):
        for d in group:
            dt = _prepare_one(recipe, d, tok, tok_id, content[d.name], cache, kind == "eval_set")
            _check_size(dt, context, kind)
            out[kind][d.name] = dt
            if on_domain:
                on_domain(d.name, dt)
    data_hash = stable_hash({"content": content, "tok": tok_id, "val_fraction": recipe.data.val_fraction,
                             "max_tokens": recipe.data.max_tokens_per_domain})
    return PreparedData(data_hash, tok.vocab_size, tok.eot, out["domain"], out["eval_set"])


def raw_data(recipe: Recipe) -> PreparedData:
    """No tokenizing, for a command trainer that reads the raw sources itself: a content hash per
    domain, and sizes in bytes (they stand in for tokens in the sampling prior and epoch caps)."""
    everything = [*recipe.domains, *recipe.eval_sets]
    content = {d.name: domain_content_hash(recipe, d) for d in everything}

    def sized(d: Domain) -> DomainTokens:
        return DomainTokens(d.name, "", "", sum(p.stat().st_size for p in source_files(recipe, d)), 0)

    return PreparedData(stable_hash({"content": content, "raw": True}), 0, -1,
                        {d.name: sized(d) for d in recipe.domains}, {d.name: sized(d) for d in recipe.eval_sets})
