"""Tokenize each domain once into sharded, memory-mapped train/val token arrays, cached by content hash."""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable
from contextlib import closing
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from mixsearch.data.scratch import remove_abandoned, scratch_dir
from mixsearch.data.shards import INDEX, Shard, TokenView, load_index, read_index, shard_of_file, write_index
from mixsearch.data.sources import DecodeStats, effective_source, source_files
from mixsearch.data.stream import ProgressFn, plan, tokenize_all
from mixsearch.data.tasks import TaskTokens, prepare_task
from mixsearch.data.tokenizer import recipe_tokenizer
from mixsearch.data.workpool import WorkerDied
from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.recipe.schema import Domain, Recipe

FORMAT = 2  # of the token cache; part of its key


@dataclass(frozen=True)
class DomainTokens:
    """Where one domain's token shards live (their index), and how many train/val tokens they hold:
    the first train_tokens of the shards' concatenation are training, the next val_tokens validation."""

    name: str
    index: str
    train_tokens: int
    val_tokens: int
    dtype: str = "uint16"
    text_bytes: int = 0  # bytes of its text files
    undecodable_bytes: int = 0  # of them, not valid UTF-8 (replaced by U+FFFD)
    val_bytes: int = 0  # UTF-8 bytes its validation tokens stand for (0: unknown)

    def _shards(self) -> list[Shard]:
        return read_index(self.index)[0]

    def train(self) -> TokenView:
        return TokenView(self._shards(), 0, self.train_tokens)

    def val(self) -> TokenView:
        return TokenView(self._shards(), self.train_tokens, self.train_tokens + self.val_tokens)


@dataclass(frozen=True)
class PreparedData:
    """Token caches of a recipe's domains and eval sets; plain data, cheap to ship to Ray workers."""

    data_hash: str
    vocab_size: int
    eot: int
    domains: dict[str, DomainTokens]
    eval_sets: dict[str, DomainTokens]  # held-out text
    tasks: dict[str, TaskTokens] = field(default_factory=dict)  # eval sets of kind task

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "PreparedData":
        return cls(
            data_hash=d["data_hash"], vocab_size=d["vocab_size"], eot=d["eot"],
            domains={k: DomainTokens(**v) for k, v in d["domains"].items()},
            eval_sets={k: DomainTokens(**v) for k, v in d["eval_sets"].items()},
            tasks={k: TaskTokens(**v) for k, v in d.get("tasks", {}).items()},
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


def _max_id(shard: Shard) -> int:
    arr = shard.array()
    step = 1 << 26
    return max((int(arr[i: i + step].max()) for i in range(0, len(arr), step)), default=-1)


def _tokenize(recipe: Recipe, domain: Domain, tok_spec: dict, out: Path, val_only: bool,
              options: PrepareOptions, stats: DecodeStats) -> tuple[list[Shard], int, int, int]:
    """Write the domain's token shards into `out` (pre-tokenized files are used in place);
    returns (shards, train tokens, val tokens, largest id). The last val_fraction is validation."""
    src = effective_source(recipe, domain)
    files = source_files(recipe, domain)
    cap = recipe.data.max_tokens_per_domain
    where = f"domain {domain.name}: source"
    report = options.progress_of(domain.name, sum(p.stat().st_size for p in files))
    try:
        if src.tokens:
            shards = [shard_of_file(p, src.dtype) for p in files]
            report(sum(p.stat().st_size for p in files))
        else:
            fmt = "files" if src.files else "jsonl" if src.jsonl else "parquet"
            field = src.field if src.jsonl else src.column
            shards, total = [], 0
            with closing(tokenize_all(plan(files, fmt), fmt, field, tok_spec, options.workers, options.use_ray,
                                      report, stats)) as parts:
                for i, ids in enumerate(parts):
                    path = out / f"shard-{i:05d}.bin"
                    ids.tofile(path)
                    shards.append(Shard(str(path), len(ids), str(ids.dtype)))
                    total += len(ids)
                    if cap and total >= cap:
                        break
    except ValueError as exc:
        raise UserError(str(exc).splitlines()[-1], where=where) from None
    except WorkerDied as exc:
        raise UserError(f"{exc}; fewer --workers need less memory", where=f"domain {domain.name}") from None
    total = sum(s.tokens for s in shards)
    total = min(total, cap) if cap else total
    n_val = total if val_only else int(total * recipe.data.val_fraction)
    return shards, total - n_val, n_val, max((_max_id(s) for s in shards), default=-1)


def _bytes_of(view: TokenView, token_bytes: np.ndarray) -> int:
    """UTF-8 bytes the tokens of `view` stand for (ids outside the table: none)."""
    step, total = 1 << 24, 0
    for lo in range(0, len(view), step):
        ids = np.asarray(view[lo: lo + step], np.int64)
        total += int(token_bytes[ids[ids < len(token_bytes)]].sum())
    return total


def _prepare_one(recipe: Recipe, domain: Domain, tok_spec: dict, tok_id: str, content: str, cache: Path,
                 val_only: bool, options: PrepareOptions, token_bytes: np.ndarray) -> tuple[DomainTokens, int]:
    """A domain's cached tokens (made if missing) and its largest token id."""
    key = stable_hash({"content": content, "tok": tok_id, "val_fraction": recipe.data.val_fraction,
                       "max_tokens": recipe.data.max_tokens_per_domain, "val_only": val_only, "format": FORMAT})
    final = cache / "tokens" / f"{domain.name}-{key}"
    if load_index(final / INDEX) is None:  # none yet, or a damaged one (warned): made (again)
        damaged = (final / INDEX).exists()
        with scratch_dir(final.parent, final.name) as tmp:
            stats = DecodeStats()
            shards, n_train, n_val, max_id = _tokenize(recipe, domain, tok_spec, tmp, val_only, options, stats)
            val_bytes = _bytes_of(TokenView(shards, n_train, n_train + n_val), token_bytes)
            write_index(tmp, shards, n_train, n_val, {"max_id": max_id, "text_bytes": stats.bytes,
                                                      "undecodable_bytes": stats.undecodable,
                                                      "val_bytes": val_bytes})  # shards in tmp: named relative to it
            if damaged or not (final / INDEX).exists():  # else another prepare made them meanwhile
                if final.exists():
                    shutil.rmtree(final)
                os.replace(tmp, final)
    shards, index = read_index(final / INDEX)
    dtypes = {s.dtype for s in shards}
    dtype = dtypes.pop() if len(dtypes) == 1 else "uint32"
    val_bytes = index.get("val_bytes")  # a cache made before it was recorded: measured now
    if not isinstance(val_bytes, int):
        val_bytes = _bytes_of(TokenView(shards, index["train_tokens"], index["train_tokens"] + index["val_tokens"]),
                              token_bytes)
    return DomainTokens(domain.name, str(final / INDEX), index["train_tokens"], index["val_tokens"], dtype,
                        index.get("text_bytes", 0), index.get("undecodable_bytes", 0), val_bytes), \
        index["max_id"]


def _check_decoding(dt: DomainTokens, limit: float, kind: str) -> None:
    share = dt.undecodable_bytes / dt.text_bytes if dt.text_bytes else 0.0
    if share > limit:
        raise UserError(f"{share:.2%} of its bytes ({dt.undecodable_bytes:,} of {dt.text_bytes:,}) are not valid "
                        f"UTF-8, above data.max_decode_errors = {limit:g} (binary or mis-encoded files?)",
                        where=f"{kind} {dt.name}")


def _check_size(dt: DomainTokens, context: int, kind: str) -> None:
    need = context + 1
    if dt.val_tokens < need or (kind == "domain" and dt.train_tokens < need):
        raise UserError(
            f"only {dt.train_tokens} train / {dt.val_tokens} validation tokens; "
            f"a context of {context} needs at least {need} of each",
            where=f"{kind} {dt.name}",
        )


@dataclass(frozen=True)
class PrepareOptions:
    """How to tokenize: `workers` local processes (default: every core) or Ray tasks on the
    connected cluster; on_progress(domain, bytes done, bytes total) as shards finish."""

    workers: int | None = None
    use_ray: bool = False
    on_progress: Callable[[str, int, int], None] | None = None

    def progress_of(self, name: str, total: int) -> ProgressFn:
        done = 0

        def report(nbytes: int) -> None:
            nonlocal done
            done += nbytes
            if self.on_progress:
                self.on_progress(name, done, total)

        return report


def prepare(recipe: Recipe, on_domain=None, options: PrepareOptions | None = None) -> PreparedData:
    """Tokenize (or reuse cached tokens of) every domain and eval set of the recipe."""
    options = options or PrepareOptions()
    if options.workers is None:
        options = replace(options, workers=os.cpu_count() or 1)
    cache = Path(recipe.data.cache_dir)
    everything = [*recipe.domains, *recipe.eval_sets]
    remove_abandoned(cache / "tokens", legacy=[d.name for d in everything])  # left by a prepare that was killed
    content = {d.name: domain_content_hash(recipe, d) for d in everything}
    tok, tok_id, tok_spec = recipe_tokenizer(recipe, {d.name: content[d.name] for d in recipe.domains}, cache)
    context = recipe.proxy.model.context
    out: dict[str, dict[str, DomainTokens]] = {"domain": {}, "eval_set": {}}
    token_bytes = tok.token_bytes()
    texts = [e for e in recipe.eval_sets if e.kind == "text"]
    for kind, group in (("domain", recipe.domains), ("eval_set", texts)):
        for d in group:
            dt, max_id = _prepare_one(recipe, d, tok_spec, tok_id, content[d.name], cache, kind == "eval_set", options,
                                      token_bytes)
            if max_id >= tok.vocab_size:
                raise UserError(f"token id {max_id} is outside the tokenizer's vocabulary of {tok.vocab_size} "
                                "(set `tokenizer` to the one that made these tokens)", where=f"{kind} {d.name}")
            _check_decoding(dt, recipe.data.max_decode_errors, kind)
            _check_size(dt, context, kind)
            out[kind][d.name] = dt
            if on_domain:
                on_domain(d.name, dt)
    tasks = {e.name: prepare_task(recipe, e, tok, tok_id, content[e.name], cache, context)
             for e in recipe.eval_sets if e.kind == "task"}
    key = {"content": content, "tok": tok_id, "val_fraction": recipe.data.val_fraction,
           "max_tokens": recipe.data.max_tokens_per_domain, "format": FORMAT}
    if tasks:  # which fields a task reads changes its tokens, not its files
        key["tasks"] = {e.name: [e.context_field, e.continuation_field] for e in recipe.eval_sets if e.kind == "task"}
    data_hash = stable_hash(key)
    return PreparedData(data_hash, tok.vocab_size, tok.eot, out["domain"], out["eval_set"], tasks)


def raw_data(recipe: Recipe) -> PreparedData:
    """No tokenizing, for a command trainer that reads the raw sources itself: a content hash per
    domain, and sizes in bytes (they stand in for tokens in the sampling prior and epoch caps)."""
    everything = [*recipe.domains, *recipe.eval_sets]
    content = {d.name: domain_content_hash(recipe, d) for d in everything}

    def sized(d: Domain) -> DomainTokens:
        return DomainTokens(d.name, "", sum(p.stat().st_size for p in source_files(recipe, d)), 0)

    return PreparedData(stable_hash({"content": content, "raw": True}), 0, -1,
                        {d.name: sized(d) for d in recipe.domains}, {d.name: sized(d) for d in recipe.eval_sets})
