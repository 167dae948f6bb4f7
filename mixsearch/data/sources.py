"""Read a domain's documents from text files, a JSONL field or a Parquet column."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from mixsearch.data.fetch import MANIFEST, fetched_dir
from mixsearch.errors import UserError
from mixsearch.recipe import Domain, Recipe, Source


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


def iter_documents(recipe: Recipe, domain: Domain) -> Iterator[str]:
    """Yield the text documents of a domain in a stable order (none for pre-tokenized sources)."""
    src = effective_source(recipe, domain)
    if src.tokens:
        return
    where = f"domain {domain.name}: source"
    for path in source_files(recipe, domain):
        if src.files:
            yield path.read_bytes().decode("utf-8", errors="replace")
        elif src.jsonl:
            with path.open(encoding="utf-8", errors="replace") as fh:
                for lineno, line in enumerate(fh, 1):
                    if not line.strip():
                        continue
                    try:
                        row = json.loads(line)
                    except json.JSONDecodeError:
                        raise UserError(f"{path}:{lineno}: invalid JSON", where=where) from None
                    if not isinstance(row, dict) or src.field not in row:
                        raise UserError(f"{path}:{lineno}: no field '{src.field}'", where=where)
                    yield str(row[src.field])
        else:
            schema = pq.read_schema(path)
            if src.column not in schema.names:
                raise UserError(f"{path}: no column '{src.column}'", where=where)
            for value in pq.read_table(path, columns=[src.column]).column(0).to_pylist():
                if value is not None:
                    yield str(value)
