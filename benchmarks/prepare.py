"""Prepare throughput: `data prepare` (streamed shards, parallel processes) versus the `tokenizers`
library's own batch encode of the same text, on 1 and 2 cores (goal: >= 0.8x of it per core).

The text is real: the Python standard library's sources (code) and its language reference (pydoc
topics), concatenated into 1 MB files and repeated to --mb MB (default 200). The tokenizer is a
byte-level BPE (vocabulary 4096) trained on 4 MB of it, loaded as a tokenizer.json file. Each
measurement runs in a fresh process, with the library's thread pool sized to its core count.

    python benchmarks/prepare.py [--mb 200]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from run import print_table  # noqa: E402  (benchmarks/ is the script's directory)

FILE_BYTES = 1 << 20


def make_corpus(root: Path, mb: int) -> tuple[int, Path]:
    """Write about `mb` MB of real text in two domains (code 3/4, docs 1/4); returns (bytes, tokenizer path)."""
    from pydoc_data.topics import topics
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    stdlib = Path(sysconfig.get_paths()["stdlib"])
    code = "".join(p.read_text(errors="replace") for p in sorted(stdlib.rglob("*.py"))[:2000])
    docs = "\n\n".join(topics.values())
    total = 0
    for name, text, share in (("code", code, 0.75), ("docs", docs, 0.25)):
        (root / name).mkdir()
        target, i = int(mb * share * 1e6), 0
        written = 0
        while written < target:
            start = (i * 7919 * 4096) % max(1, len(text) - FILE_BYTES)
            chunk = text[start: start + FILE_BYTES]
            (root / name / f"{i:05d}.txt").write_text(chunk)
            written += len(chunk.encode())
            i += 1
        total += written
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.train_from_iterator([code[:3_000_000], docs[:1_000_000]],
                            trainers.BpeTrainer(vocab_size=4096, special_tokens=["<|endoftext|>"], show_progress=False,
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok.save(str(root / "tokenizer.json"))
    return total, root / "tokenizer.json"


def measure_prepare(root: Path, cores: int) -> float:
    """Seconds for mixsearch to prepare the corpus with `cores` tokenizer processes."""
    from mixsearch.data.prepare import PrepareOptions, prepare
    from mixsearch.recipe.schema import parse_recipe

    recipe = parse_recipe({
        "study": "bench", "tokenizer": {"kind": "file", "path": str(root / "tokenizer.json")},
        "domains": [{"name": n, "source": {"files": [str(root / n / "*.txt")]}} for n in ("code", "docs")],
        "data": {"cache_dir": str(root / f"cache-{cores}")}}, "bench")
    start = time.perf_counter()
    prepare(recipe, options=PrepareOptions(workers=cores))
    return time.perf_counter() - start


def measure_library(root: Path) -> float:
    """Seconds for tokenizers' encode_batch_fast over the same documents (read beforehand)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(root / "tokenizer.json"))
    texts = [p.read_text() for n in ("code", "docs") for p in sorted((root / n).glob("*.txt"))]
    start = time.perf_counter()
    for i in range(0, len(texts), 8):
        tok.encode_batch_fast(texts[i: i + 8], add_special_tokens=False)
    return time.perf_counter() - start


def child(kind: str, root: Path, cores: int) -> float:
    """One measurement in a fresh process; the library's thread pool limited to `cores`."""
    env = {**os.environ, "RAYON_NUM_THREADS": str(cores), "TOKENIZERS_PARALLELISM": "true" if cores > 1 else "false"}
    out = subprocess.run([sys.executable, __file__, "--measure", kind, "--root", str(root), "--cores", str(cores)],
                         env=env, capture_output=True, text=True, check=True).stdout
    return float(json.loads(out.strip().splitlines()[-1])["seconds"])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--measure", choices=["prepare", "library"])
    parser.add_argument("--root", type=Path)
    parser.add_argument("--cores", type=int, default=1)
    args = parser.parse_args()
    if args.measure:
        seconds = (measure_prepare if args.measure == "prepare" else measure_library)(*(
            (args.root, args.cores) if args.measure == "prepare" else (args.root,)))
        print(json.dumps({"seconds": seconds}))
        return
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        nbytes, _ = make_corpus(root, args.mb)
        rows = []
        for cores in (1, 2):
            lib = nbytes / 1e6 / child("library", root, cores)
            ours = nbytes / 1e6 / child("prepare", root, cores)
            rows.append((str(cores), f"{ours:.1f}", f"{lib:.1f}", f"{ours / lib:.2f}x"))
    print_table(f"prepare throughput — {nbytes / 1e6:.0f} MB of stdlib text, byte-level BPE 4096, {os.cpu_count()} CPUs",
                ("cores", "mixsearch data prepare MB/s", "tokenizers encode_batch_fast MB/s", "ratio"), rows)


if __name__ == "__main__":
    main()
