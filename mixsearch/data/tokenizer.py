"""Tokenizers that need no download: byte-level, a small BPE trained locally, or a Hugging Face
`tokenizers` JSON file read from disk."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import numpy as np

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


class ByteTokenizer:
    """UTF-8 bytes as tokens 0..255, end-of-text 256."""

    vocab_size = 257
    eot = 256

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
