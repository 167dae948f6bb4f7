"""Stream a domain's text in shards and tokenize the shards in parallel: local processes, or Ray
tasks when a cluster is connected. No domain's text is ever held in memory at once: a shard is
a few MB of documents (whole small files, or newline-aligned byte ranges of large files / JSONL,
or Parquet row groups)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixsearch.data.sources import DecodeStats
from mixsearch.data.workpool import ordered_map

SHARD_BYTES = 8 << 20  # text per shard (a unit of parallel work)
BATCH_BYTES = 1 << 20  # text per batch-encode call
RAY_POLL_S = 2.0  # how often a wait for a Ray result checks for signals and for the cluster's health
ProgressFn = Callable[[int], None]  # bytes of source read since the last call


@dataclass(frozen=True)
class Piece:
    """Part of a source file: bytes [start, stop) of a text/JSONL file, or Parquet row group `start`.
    `last`: the piece ends its document (text files: the file's last piece)."""

    path: str
    start: int
    stop: int
    last: bool = True


def _line_cuts(path: Path, size: int, step: int) -> list[int]:
    """Offsets just after a newline, about `step` apart, from 0 to size."""
    cuts = [0]
    with path.open("rb") as fh:
        while cuts[-1] + step < size:
            fh.seek(cuts[-1] + step)
            fh.readline()
            pos = fh.tell()
            if pos >= size:
                break
            cuts.append(pos)
    return cuts + [size]


def plan(files: list[Path], fmt: str) -> list[list[Piece]]:
    """Group a domain's files into shards of about SHARD_BYTES, in a stable pseudo-random file order
    (so the validation tail is a spread of files, not the last directory)."""
    order = sorted(files, key=lambda p: (hashlib.sha1(p.name.encode()).digest(), str(p)))
    pieces: list[tuple[Piece, int]] = []
    for path in order:
        size = path.stat().st_size
        if fmt == "parquet":
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path).metadata
            for g in range(meta.num_row_groups):
                pieces.append((Piece(str(path), g, g + 1), meta.row_group(g).total_byte_size))
            continue
        cuts = _line_cuts(path, size, SHARD_BYTES) if size > SHARD_BYTES else [0, size]
        for a, b in zip(cuts, cuts[1:]):
            pieces.append((Piece(str(path), a, b, last=fmt != "files" or b == size), b - a))
    shards: list[list[Piece]] = []
    filled = SHARD_BYTES
    for piece, nbytes in pieces:
        if filled >= SHARD_BYTES:
            shards.append([])
            filled = 0
        shards[-1].append(piece)
        filled += nbytes
    return shards


def piece_bytes(piece: Piece) -> int:
    if piece.path.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        return pq.ParquetFile(piece.path).metadata.row_group(piece.start).total_byte_size
    return piece.stop - piece.start


def read_piece(piece: Piece, fmt: str, field: str, stats: DecodeStats) -> Iterator[str]:
    """The documents (or, for a split text file, the part of its document) in a piece; bytes that
    are not UTF-8 become U+FFFD and are counted in `stats`."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        file = pq.ParquetFile(piece.path)
        if field not in file.schema_arrow.names:
            raise ValueError(f"{piece.path}: no column '{field}'")
        table = file.read_row_group(piece.start, columns=[field])
        yield from (str(v) for v in table.column(0).to_pylist() if v is not None)
        return
    with open(piece.path, "rb") as fh:
        fh.seek(piece.start)
        raw = fh.read(piece.stop - piece.start)
    if fmt == "files":
        yield stats.decode(raw)
        return
    for lineno, line in enumerate(raw.splitlines(), 1):
        if line.strip():
            try:
                row = json.loads(stats.decode(line))
            except json.JSONDecodeError:
                raise ValueError(f"{piece.path}: invalid JSON in line {lineno} after byte {piece.start}") from None
            if not isinstance(row, dict) or field not in row:
                raise ValueError(f"{piece.path}: a line has no field '{field}'")
            yield str(row[field])


_TOKENIZERS: dict[str, object] = {}


def load_tokenizer(spec: dict):
    """A tokenizer from its plain-data spec ({kind: byte} or {kind: bpe, path, eos}), cached per process."""
    from mixsearch.data.tokenizer import BPETokenizer, ByteTokenizer

    key = json.dumps(spec, sort_keys=True)
    if key not in _TOKENIZERS:
        _TOKENIZERS[key] = ByteTokenizer() if spec["kind"] == "byte" else BPETokenizer(Path(spec["path"]), spec["eos"])
    return _TOKENIZERS[key]


def tokenize_shard(pieces: list[Piece], fmt: str, field: str, tok_spec: dict) -> tuple[np.ndarray, int, DecodeStats]:
    """(token ids of the shard's documents, each followed by the separator; bytes of source read;
    their decoding counts)."""
    from mixsearch.data.tokenizer import token_dtype

    tok = load_tokenizer(tok_spec)
    dtype = token_dtype(tok.vocab_size)
    eot = np.asarray([tok.eot] if tok.eot >= 0 else [], dtype=dtype)
    out: list[np.ndarray] = []
    batch: list[str] = []
    ends: list[bool] = []
    size = 0

    def flush() -> None:
        for ids, end in zip(tok.encode_many(batch), ends):
            out.append(ids.astype(dtype, copy=False))
            if end:
                out.append(eot)
        batch.clear()
        ends.clear()

    nbytes = 0
    stats = DecodeStats()
    for piece in pieces:
        nbytes += piece_bytes(piece)
        for doc in read_piece(piece, fmt, field, stats):
            batch.append(doc)
            ends.append(piece.last)
            size += len(doc)
            if size >= BATCH_BYTES:
                flush()
                size = 0
    flush()
    return (np.concatenate(out) if out else np.zeros(0, dtype)), nbytes, stats


def tokenize_all(shards: list[list[Piece]], fmt: str, field: str, tok_spec: dict, workers: int, use_ray: bool,
                 on_progress: ProgressFn | None = None, stats: DecodeStats | None = None) -> Iterator[np.ndarray]:
    """Each shard's tokens, in shard order, computed `workers` at a time (or as Ray tasks); their
    decoding counts are added to `stats`. At most a few shards are computed ahead of the consumer,
    and closing the iterator early ends the work in flight without waiting on it."""
    args = [(s, fmt, field, tok_spec) for s in shards]
    if use_ray:
        parts = _on_ray(args)
    elif workers <= 1 or len(shards) <= 1:
        parts = (tokenize_shard(*a) for a in args)
    else:
        parts = ordered_map(tokenize_shard, args, workers)
    with closing(parts):
        for ids, nbytes, counts in parts:
            if stats is not None:
                stats.bytes += counts.bytes
                stats.undecodable += counts.undecodable
            if on_progress:
                on_progress(nbytes)
            yield ids


def _on_ray(args: list[tuple]) -> Iterator[tuple[np.ndarray, int, DecodeStats]]:
    """tokenize_shard(*a) for each of `args` as Ray tasks, submitted a window ahead of the consumer
    (about two per CPU of the cluster), so stopping early leaves little work and memory behind. Tasks
    not taken run out and their results are dropped, never cancelled: a cancel that meets a task
    finishing at that moment kills the driver (Ray's "Tried to complete task that was not
    pending"), and no check before it closes that window. A wait for a result ends on a signal,
    when Ray's own processes stop, or when the cluster has no CPU left to run it on."""
    import ray

    from mixsearch import signals
    from mixsearch.errors import RayFailure
    from mixsearch.raynode import check_alive

    remote = ray.remote(tokenize_shard).options(num_cpus=1)
    window = max(2, 2 * int(ray.cluster_resources().get("CPU", 1)))
    refs = [remote.remote(*a) for a in args[:window]]
    taken = 0
    while taken < len(args):
        ref = refs[taken]
        while True:
            with signals.deferred():  # noted during Ray's wait (there it surfaced as SystemError), raised after
                ready, _ = ray.wait([ref], timeout=RAY_POLL_S)
            if ready:
                break
            check_alive()
            if ray.cluster_resources().get("CPU", 0) < 1:
                raise RayFailure("no live Ray node has a CPU to tokenize on", "add a node, or prepare without --address")
        result = ray.get(ref)
        taken += 1
        if len(refs) < len(args):
            refs.append(remote.remote(*args[len(refs)]))
        yield result
