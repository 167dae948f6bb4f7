"""Read a domain's documents from text files, a JSONL field or a Parquet column."""

from __future__ import annotations

import codecs
import glob
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from mixsearch.data.fetch import MANIFEST, fetched_dir
from mixsearch.errors import UserError
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.data import Domain, Source


_undecodable = threading.local()


def _count_and_replace(exc: UnicodeError) -> tuple[str, int]:
    assert isinstance(exc, UnicodeDecodeError)
    _undecodable.n += exc.end - exc.start
    return "\ufffd", exc.end


codecs.register_error("mixsearch.count", _count_and_replace)


@dataclass
class DecodeStats:
    """Bytes read from a domain's text files, and how many of them were not valid UTF-8."""

    bytes: int = 0
    undecodable: int = 0

    @property
    def fraction(self) -> float:
        return self.undecodable / self.bytes if self.bytes else 0.0

    def decode(self, raw: bytes) -> str:
        """raw as UTF-8, each undecodable run replaced by U+FFFD and its bytes counted."""
        _undecodable.n = 0
        text = raw.decode("utf-8", errors="mixsearch.count")
        self.bytes += len(raw)
        self.undecodable += _undecodable.n
        return text


def effective_source(recipe: Recipe, domain: Domain) -> Source:
    """The domain's source; a fetched domain without one reads the text that fetch extracted."""
    if domain.source is not None:
        return domain.source
    return Source(files=[str(fetched_dir(recipe, domain) / "*.txt")])


def _expand(patterns: list[str]) -> list[Path]:
    found: set[str] = set()
    for pattern in patterns:
        found.update(p for p in glob.glob(pattern, recursive=True))
    return sorted(Path(p) for p in found if Path(p).is_file() and Path(p).name != MANIFEST)


def source_files(recipe: Recipe, domain: Domain) -> list[Path]:
    """The files behind a domain, sorted; a UserError if there are none."""
    src = effective_source(recipe, domain)
    patterns = src.files or [src.jsonl or src.parquet or src.tokens or ""]
    files = _expand(patterns)
    if not files:
        hint = " (run `mixsearch data fetch` first)" if domain.fetch else ""
        raise UserError(f"no files match {', '.join(patterns)}{hint}", where=f"domain {domain.name}: source")
    return files


def jsonl_rows(path: Path, stats: DecodeStats, where: str) -> Iterator[tuple[int, dict]]:
    """(line number, object) of each non-empty line of a JSONL file; a UserError naming `where`
    and the line for invalid JSON or a line that is no JSON object."""
    with path.open("rb") as fh:
        for lineno, line in enumerate(map(stats.decode, fh), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                raise UserError(f"{path}:{lineno}: invalid JSON", where=where) from None
            if not isinstance(row, dict):
                raise UserError(f"{path}:{lineno}: not a JSON object", where=where)
            yield lineno, row


def iter_documents(recipe: Recipe, domain: Domain, stats: DecodeStats | None = None) -> Iterator[str]:
    """Yield the text documents of a domain in a stable order; bytes that are not UTF-8 become
    U+FFFD and are counted in `stats`."""
    src = effective_source(recipe, domain)
    if src.tokens:
        return
    where = f"domain {domain.name}: source"
    stats = stats if stats is not None else DecodeStats()
    for path in source_files(recipe, domain):
        if src.files:
            yield stats.decode(path.read_bytes())
        elif src.jsonl:
            for lineno, row in jsonl_rows(path, stats, where):
                if src.field not in row:
                    raise UserError(f"{path}:{lineno}: no field '{src.field}'", where=where)
                yield str(row[src.field])
        else:
            schema = pq.read_schema(path)
            if src.column not in schema.names:
                raise UserError(f"{path}: no column '{src.column}'", where=where)
            for value in pq.read_table(path, columns=[src.column]).column(0).to_pylist():
                if value is not None:
                    yield str(value)
