"""Task eval sets: JSONL lines of a context and a continuation (a question and its answer),
tokenized once into one cached `.npz` of plain arrays (read without pickle). A model is scored on
the continuation only, in bits per byte (proxy/evaluate.py)."""

from __future__ import annotations

import os
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mixsearch.data.sources import DecodeStats, jsonl_rows, source_files
from mixsearch.data.tokenizer import TextTokenizer
from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.recipe.data import EvalSet
from mixsearch.recipe.schema import Recipe

FORMAT = 1  # of the task cache; part of its key


@dataclass(frozen=True)
class TaskTokens:
    """Where a task's tokens live and their totals: `examples` lines, `continuation_tokens` scored
    tokens standing for `continuation_bytes` UTF-8 bytes."""

    name: str
    path: str
    examples: int
    continuation_tokens: int
    continuation_bytes: int

    def arrays(self) -> dict[str, np.ndarray]:
        """tokens (every example's prefix, context and continuation, concatenated), offsets (n+1),
        continuation (tokens per example), bytes (continuation bytes per example)."""
        with np.load(self.path, allow_pickle=False) as z:
            return {k: z[k] for k in ("tokens", "offsets", "continuation", "bytes")}


def read_examples(recipe: Recipe, task: EvalSet) -> list[tuple[str, str]]:
    """(context, continuation) of every line of the task's JSONL files; a UserError names the
    first bad line (invalid JSON, a missing or non-string field, an empty continuation)."""
    where = f"eval_set {task.name}: source"
    stats = DecodeStats()
    out = []
    for path in source_files(recipe, task):
        for lineno, row in jsonl_rows(path, stats, where):
            pair = []
            for key in (task.context_field, task.continuation_field):
                if not isinstance(row.get(key), str):
                    what = "no field" if key not in row else "not a string:"
                    raise UserError(f"{path}:{lineno}: {what} '{key}'", where=where)
                pair.append(row[key])
            if not pair[1]:
                raise UserError(f"{path}:{lineno}: empty '{task.continuation_field}'", where=where)
            out.append((pair[0], pair[1]))
    if not out:
        raise UserError("no examples (every line is empty)", where=where)
    if stats.fraction > recipe.data.max_decode_errors:
        raise UserError(f"{stats.fraction:.2%} of its bytes are not valid UTF-8, above data.max_decode_errors",
                        where=where)
    return out


def _readable(task: TaskTokens) -> dict[str, np.ndarray] | None:
    """A task's cached arrays; None when there are none, or (with a one-line warning) when the file
    is damaged: it is made again."""
    if not Path(task.path).exists():
        return None
    try:
        return task.arrays()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        print(f"warning: {task.path}: unreadable, made again ({str(exc).splitlines()[0][:200]})", file=sys.stderr)
        return None


def prepare_task(recipe: Recipe, task: EvalSet, tok: TextTokenizer, tok_id: str, content: str, cache: Path,
                 context: int) -> TaskTokens:
    """The task's cached tokens (made if missing). Each example is end-of-text (the start of a
    document, when the tokenizer has one), the context, then the continuation, tokenized apart so
    the continuation's tokens are exactly its own; a continuation longer than the model's
    `context` tokens cannot be scored and is an error."""
    key = stable_hash({"content": content, "tok": tok_id, "fields": [task.context_field, task.continuation_field],
                       "format": FORMAT})
    final = cache / "tokens" / f"{task.name}-task-{key}.npz"
    arrays = _readable(TaskTokens(task.name, str(final), 0, 0, 0))
    if arrays is None:
        examples = read_examples(recipe, task)
        prefix = np.array([tok.eot] if tok.eot >= 0 else [], np.int64)
        seqs, conts, nbytes = [], [], []
        for i, (ctx, cont) in enumerate(examples):
            c, k = (np.asarray(tok.encode(t), np.int64) for t in (ctx, cont))
            if len(prefix) + len(c) == 0:
                raise UserError(f"example {i + 1}: empty context and the tokenizer has no end-of-text token to "
                                "start from", where=f"eval_set {task.name}")
            seqs.append(np.concatenate([prefix, c, k]))
            conts.append(len(k))
            nbytes.append(len(cont.encode("utf-8")))
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp.npz")
        try:
            np.savez(tmp, tokens=np.concatenate(seqs), offsets=np.cumsum([0, *map(len, seqs)]),
                     continuation=np.array(conts, np.int64), bytes=np.array(nbytes, np.int64))
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        arrays = TaskTokens(task.name, str(final), 0, 0, 0).arrays()
    longest = int(np.argmax(arrays["continuation"]))
    if arrays["continuation"][longest] > context:  # checked on every prepare: the context may have changed
        raise UserError(f"example {longest + 1}: the continuation has {arrays['continuation'][longest]} tokens, "
                        f"more than the model context of {context}", where=f"eval_set {task.name}")
    return TaskTokens(task.name, str(final), len(arrays["continuation"]), int(arrays["continuation"].sum()),
                      int(arrays["bytes"].sum()))
