"""The recipe's data side: domains and their sources or downloads, the tokenizer, data options."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from mixsearch.recipe.base import BIG, NAME_MAX, NAME_PATTERN, Int, Strict, one_as_list


class Source(Strict):
    """Where a domain's text lives: exactly one of files, jsonl, parquet, or tokens (pre-tokenized)."""

    files: list[str] | None = Field(None, description="glob patterns of text files")
    jsonl: str | None = Field(None, description="path or glob of JSONL files")
    field: str = Field("text", description="JSONL field holding the text")
    parquet: str | None = Field(None, description="path or glob of Parquet files")
    column: str = Field("text", description="Parquet column holding the text")
    tokens: str | None = Field(None, description="path or glob of pre-tokenized flat .bin arrays or .npy files")
    dtype: Literal["uint16", "uint32"] = Field("uint16", description="tokens: element type of the .bin files")

    @model_validator(mode="before")
    @classmethod
    def _files_as_list(cls, data: object) -> object:
        return one_as_list(data, "files")

    @model_validator(mode="after")
    def _exactly_one(self) -> "Source":
        given = [k for k in ("files", "jsonl", "parquet", "tokens") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of files, jsonl, parquet, tokens")
        return self


class Fetch(Strict):
    """Download a package without installing it and extract plain text from it."""

    pip: str | None = Field(None, description="pip requirement, e.g. sympy==1.14.0")
    apt: list[str] | None = Field(None, description="Debian package names")
    include: list[str] = Field(description="glob patterns of archive members to keep")
    exclude: list[str] = []
    format: Literal["text", "chitchat"] = "text"
    max_bytes: Int = Field(3_000_000, gt=0, le=BIG, description="cap on extracted text per domain")

    @model_validator(mode="before")
    @classmethod
    def _apt_as_list(cls, data: object) -> object:
        return one_as_list(data, "apt")

    @model_validator(mode="after")
    def _one_package_kind(self) -> "Fetch":
        if bool(self.pip) == bool(self.apt):
            raise ValueError("give exactly one of pip, apt")
        return self


class Domain(Strict):
    """A named body of text: a training domain or a held-out evaluation set."""

    name: str = Field(pattern=NAME_PATTERN, max_length=NAME_MAX)
    source: Source | None = None
    fetch: Fetch | None = None
    tokens: Int | None = Field(None, gt=0, le=BIG, description="fit-only studies (no source): the domain's token "
                                                        "count, for the sampling prior and epoch caps")

    @property
    def has_text(self) -> bool:
        return self.source is not None or self.fetch is not None

    @model_validator(mode="after")
    def _tokens_without_text(self) -> "Domain":
        if self.tokens is not None and self.has_text:
            raise ValueError("tokens is for domains without a source (fit-only studies); "
                             "a source's token count is measured")
        return self


class EvalSet(Domain):
    """A held-out evaluation set: text (a loss per token, never trained on), or a task: JSONL lines
    of a context and a continuation (a question and its answer), scored on the continuation only,
    in bits per byte."""

    kind: Literal["text", "task"] = Field("text", description="text: held-out text; task: JSONL of context and "
                                                              "continuation, scored on the continuation in bits "
                                                              "per byte")
    context_field: str = Field("context", min_length=1, description="task: the JSONL field of the context")
    continuation_field: str = Field("continuation", min_length=1,
                                    description="task: the JSONL field of the continuation scored")

    @model_validator(mode="after")
    def _task_reads_jsonl(self) -> "EvalSet":
        if self.kind == "task" and (self.source is None or self.source.jsonl is None):
            raise ValueError("kind=task reads a local source.jsonl (a context and a continuation per line)")
        if self.kind == "task" and self.context_field == self.continuation_field:
            raise ValueError("context_field and continuation_field must differ")
        return self


class Tokenizer(Strict):
    kind: Literal["byte", "bpe", "file"] = "byte"
    vocab_size: Int = Field(2048, ge=300, le=65535, description="BPE only")
    train_bytes: Int = Field(4_000_000, gt=0, le=BIG, description="BPE only: text sampled to train it")
    path: str | None = Field(None, description="file: a Hugging Face tokenizers JSON file (tokenizer.json)")
    eos: str | None = Field(None, description="file: the document separator token; default: the first of "
                                              "<|endoftext|>, <|end_of_text|>, </s>, <|eot|>, <eos>, <|im_end|>, "
                                              "[SEP] it has, else none")

    @model_validator(mode="after")
    def _path_for_file(self) -> "Tokenizer":
        if (self.kind == "file") != (self.path is not None):
            raise ValueError("kind=file goes with a path (and a path with kind=file)")
        return self


class Data(Strict):
    raw_dir: str = "data/raw"
    cache_dir: str = ".cache/mixsearch"
    val_fraction: float = Field(0.1, gt=0, lt=0.5)
    max_tokens_per_domain: Int | None = Field(None, gt=0, le=BIG)
    max_decode_errors: float = Field(0.001, ge=0, le=1, description="largest fraction of a domain's bytes "
                                                                     "that may be invalid UTF-8")
