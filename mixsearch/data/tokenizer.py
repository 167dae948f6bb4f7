"""Tokenizers that need no download: byte-level, a small BPE trained locally, or a Hugging Face
`tokenizers` JSON file read from disk; and the one a recipe asks for."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np

from mixsearch.data.sources import effective_source, iter_documents
from mixsearch.errors import UserError
from mixsearch.hashing import stable_hash
from mixsearch.recipe.schema import Recipe

EOT_TEXT = "<|eot|>"
EOS_NAMES = ("<|endoftext|>", "<|end_of_text|>", "</s>", "<|eot|>", "<eos>", "<|im_end|>", "[SEP]")
MAX_UINT16 = 65535


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 while every id fits, else uint32."""
    return np.dtype(np.uint16 if vocab_size - 1 <= MAX_UINT16 else np.uint32)


class TextTokenizer(Protocol):
    vocab_size: int
    eot: int  # document separator appended after each document; -1: none

    def encode(self, text: str) -> np.ndarray: ...

    def encode_many(self, texts: list[str]) -> list[np.ndarray]: ...

    def token_bytes(self) -> np.ndarray: ...


class ByteTokenizer:
    """UTF-8 bytes as tokens 0..255, end-of-text 256."""

    vocab_size = 257
    eot = 256

    def token_bytes(self) -> np.ndarray:
        """UTF-8 bytes each id stands for: 1, and 0 for end-of-text."""
        return np.append(np.ones(256, np.int64), 0)

    def encode(self, text: str) -> np.ndarray:
        return np.frombuffer(text.encode("utf-8"), dtype=np.uint8).astype(np.uint16)

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        return [self.encode(t) for t in texts]


class BPETokenizer:
    """A byte-level BPE from the `tokenizers` library, saved as JSON."""

    def __init__(self, path: Path, eos: str | None = EOT_TEXT) -> None:
        from tokenizers import Tokenizer

        self._tok = Tokenizer.from_file(str(path))
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        self.dtype = token_dtype(self.vocab_size)
        eot = self._tok.token_to_id(eos) if eos else None
        self.eot = -1 if eot is None else eot
        self.eos_text = eos if eot is not None else None

    def encode(self, text: str) -> np.ndarray:
        return np.asarray(self._tok.encode(text, add_special_tokens=False).ids, dtype=self.dtype)

    def token_bytes(self) -> np.ndarray:
        """UTF-8 bytes each id stands for: exact for byte-level BPE (a token's characters map one to
        one onto bytes), else the length of the id decoded alone; 0 for special tokens."""
        inverse = {c: b for b, c in _byte_alphabet().items()}
        special = {t.content for t in self._tok.get_added_tokens_decoder().values() if t.special}
        out = np.zeros(self.vocab_size, np.int64)
        for i in range(self.vocab_size):
            piece = self._tok.id_to_token(i)
            if piece is None or piece in special:
                continue
            out[i] = len(piece) if all(c in inverse for c in piece) else \
                len(self._tok.decode([i], skip_special_tokens=True).encode("utf-8"))
        return out

    def encode_many(self, texts: list[str]) -> list[np.ndarray]:
        """Batch encode (the library parallelises it unless TOKENIZERS_PARALLELISM=false)."""
        encodings = self._tok.encode_batch_fast(texts, add_special_tokens=False)
        return [np.asarray(e.ids, dtype=self.dtype) for e in encodings]

    @classmethod
    def from_file(cls, path: Path, eos: str | None = None) -> "BPETokenizer":
        """A tokenizer.json from disk (no hub access); the separator is `eos`, else the first
        well-known end-of-text token the file has, else none."""
        from tokenizers import Tokenizer

        tok = Tokenizer.from_file(str(path))
        if eos is None:
            eos = next((name for name in EOS_NAMES if tok.token_to_id(name) is not None), None)
        elif tok.token_to_id(eos) is None:
            raise ValueError(f"the tokenizer has no token '{eos}'")
        return cls(path, eos)

    @staticmethod
    def train(texts: Iterable[str], vocab_size: int, path: Path) -> None:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            special_tokens=[EOT_TEXT],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tok.save(str(tmp))
        tmp.replace(path)


def _byte_alphabet() -> dict[int, str]:
    """Byte-level BPE's printable character for each byte (GPT-2's table)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("\xa1"), ord("\xac") + 1),
                 *range(ord("\xae"), ord("\xff") + 1)]
    rest = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + i) for i, b in enumerate(rest)}}


def recipe_tokenizer(recipe: Recipe, content: dict[str, str], cache: Path) -> tuple[TextTokenizer, str, dict]:
    """The recipe's tokenizer, its cache identity, and its plain-data spec for worker processes."""
    spec = recipe.tokenizer
    if spec.kind == "byte":
        return ByteTokenizer(), "byte", {"kind": "byte"}
    if spec.kind == "file":
        path = Path(spec.path or "")
        if not path.is_file():
            raise UserError("no such tokenizer file", where=f"tokenizer.path {path}")
        try:
            tok = BPETokenizer.from_file(path, spec.eos)
        except ValueError as exc:
            raise UserError(str(exc), where="tokenizer.eos") from None
        except Exception as exc:  # the tokenizers library raises its own types for a bad file
            raise UserError(f"cannot load: {str(exc).splitlines()[0]}", where=f"tokenizer.path {path}") from None
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return tok, f"file-{digest}-{tok.eos_text}", {"kind": "bpe", "path": str(path.resolve()), "eos": tok.eos_text}
    key = stable_hash({"tok": spec.model_dump(), "content": content})
    path = cache / "tokenizers" / f"bpe-{key}.json"
    if not path.exists():
        texts = [d for d in recipe.domains if not effective_source(recipe, d).tokens]
        share = spec.train_bytes // max(1, len(texts))

        def sample():
            for domain in texts:
                used = 0
                for doc in iter_documents(recipe, domain):
                    yield doc[: share - used]
                    used += min(len(doc), share - used)
                    if used >= share:
                        break

        BPETokenizer.train(sample(), spec.vocab_size, path)
    return BPETokenizer(path), f"bpe-{key}", {"kind": "bpe", "path": str(path.resolve()), "eos": EOT_TEXT}
