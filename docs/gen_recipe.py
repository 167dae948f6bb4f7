"""Write the field reference of docs/recipe.md from the recipe schema (the pydantic models).

    .venv/bin/python docs/gen_recipe.py          # rewrite the reference in docs/recipe.md
    .venv/bin/python docs/gen_recipe.py --check  # exit 1 if docs/recipe.md is out of date

Each field's type, default and allowed range come from the schema; its description is the
schema's `Field(description=...)`, else the note below, else (for a section) its model's
docstring. tests/test_docs_reference.py checks that the file is up to date and that every
field is described.
"""

from __future__ import annotations

import html
import sys
import types
import typing
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from mixsearch.recipe.schema import Recipe

DOC = Path(__file__).with_name("recipe.md")
BEGIN = "<!-- reference: written by docs/gen_recipe.py from the schema; edit the schema or the script -->"
END = "<!-- end of reference -->"

# Descriptions of the fields whose schema gives none.
NOTES = {
    "study": "study name: the study's directory is `runs/<study>/`",
    "seed": "seed of mixture sampling, data order and initialisation",
    "domains": "the training domains, two or more",
    "domains[].name": "the domain's name; it names store columns (`w_<name>`, `loss_<name>`) and files",
    "domains[].source": "where the text lives (none on any domain: a fit-only study of imported runs)",
    "domains[].fetch": "download the text with `mixsearch data fetch` (into `data.raw_dir/<name>`)",
    "domains[].fetch.exclude": "glob patterns of archive members to skip",
    "domains[].fetch.format": "text: members as they are; chitchat: the messages of a chitchat-dataset JSON",
    "eval_sets": "held-out text or tasks evaluated on, never trained on (`loss_<name>` per run)",
    "eval_sets[].name": "the eval set's name; it names the store column `loss_<name>`",
    "eval_sets[].source": "where the text lives (a task: `jsonl`, a local file)",
    "eval_sets[].fetch": "text only: download it with `mixsearch data fetch` (into `data.raw_dir/<name>`)",
    "tokenizer": "how text becomes tokens",
    "tokenizer.kind": "byte: byte-level (256 ids); bpe: trained on the domains; file: a tokenizer.json file",
    "data": "where text and tokens are kept",
    "data.raw_dir": "fetched text, one directory per domain",
    "data.cache_dir": "token cache, keyed by a content hash of text and tokenizer",
    "data.val_fraction": "share of each domain's tokens held out for validation losses",
    "data.max_tokens_per_domain": "cap on the tokens kept per domain (null: all)",
    "proxy": "the proxy runs: the built-in GPT (or a command trainer), its training and resources",
    "proxy.model": "the built-in GPT's shape (the target fidelity's, unless `fidelities` say otherwise)",
    "proxy.model.layers": "transformer layers",
    "proxy.model.width": "embedding width; divisible by heads",
    "proxy.model.heads": "attention heads",
    "proxy.model.context": "sequence length in tokens",
    "proxy.train": "the built-in GPT's training",
    "proxy.train.batch_size": "sequences per step",
    "proxy.train.lr": "peak learning rate (AdamW)",
    "proxy.train.min_lr_ratio": "cosine schedule: final learning rate as a share of lr",
    "proxy.train.warmup_steps": "linear warm-up steps",
    "proxy.train.schedule": "learning-rate schedule after warm-up",
    "proxy.train.weight_decay": "AdamW weight decay",
    "proxy.train.beta1": "AdamW beta1",
    "proxy.train.beta2": "AdamW beta2",
    "proxy.train.grad_clip": "gradient norm clip",
    "proxy.resources": "what each Ray task asks for",
    "proxy.resources.num_cpus": "CPUs per task",
    "proxy.fidelities[].name": "the fidelity's name (a store column value and a `--fidelity` choice)",
    "proxy.fidelities[].tokens": "training tokens per run (default: proxy.train.tokens)",
    "proxy.fidelities[].layers": "default: proxy.model.layers",
    "proxy.fidelities[].width": "default: proxy.model.width",
    "proxy.fidelities[].heads": "default: proxy.model.heads",
    "proxy.fidelities[].mlp": "default: proxy.model.mlp",
    "objective": "what the search optimises (one objective)",
    "objective.kind": "domain: a domain's validation loss; mean: the (weighted) mean of the losses of `over` "
                      "(default: the domains); "
                      "eval: an eval set's loss; metric: a number the trainer reports or an import brings",
    "objective.direction": "minimize or maximize; values are stored and shown as given",
    "constraints": "bounds on the mixtures searched",
    "constraints.domains": "per-domain bounds, by domain name",
    "constraints.domains.<name>.max_epochs": "epoch cap of this domain (overrides constraints.max_epochs)",
    "search": "the search: initial runs, rounds, surrogate, proposer",
    "search.rounds": "proposal rounds `mixsearch run` trains after the initial runs",
    "search.surrogate": "the model of objective vs mixture; auto: cross-validate every applicable one, "
                        "keep the best Spearman",
    "search.proposer": "how the next batch is chosen",
    "search.candidates": "candidate mixtures scored by the surrogate",
    "search.top_k": "regmix: candidates averaged into a proposal or recommendation",
    "search.cv_folds": "folds of the surrogate's cross-validation",
    "search.sampling": "how initial mixtures and candidates are drawn",
    "search.sampling.method": "dirichlet (RegMix), uniform on the simplex, or a Sobol sequence",
    "search.sampling.prior_power": "prior = token share ^ prior_power, renormalised",
    "search.sampling.concentration_min": "least Dirichlet concentration (log-spaced grid)",
    "search.sampling.concentration_max": "largest Dirichlet concentration",
    "search.sampling.concentration_steps": "concentrations in the grid",
    "search.sampling.max_prior_multiple": "cap each weight at this multiple of its prior (null: no cap)",
    "search.replicates.seeds": "seeds per replicated mixture",
}


@dataclass
class Row:
    """One field of the reference: its dotted path and the cells of its row."""

    path: str
    kind: str
    default: str
    allowed: str
    description: str


def _models(ann: object) -> list[type[BaseModel]]:
    """The models inside an annotation (`Domain`, `list[Domain]`, `Trainer | None`)."""
    found = [m for arg in typing.get_args(ann) for m in _models(arg)]
    return found + [ann] if isinstance(ann, type) and issubclass(ann, BaseModel) else found


def _type(ann: object) -> str:
    """An annotation as a reader writes it: `int \\| null`, `list of str`, the choices of a Literal."""
    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if origin is typing.Annotated:
        return _type(args[0])
    if origin is typing.Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type(a) for a in args)
    if origin is list:
        return "list of sections" if _models(args[0]) else f"list of {_type(args[0])}"
    if origin is dict:
        return f"map of {_type(args[0])} → {_type(args[1])}"
    if ann is type(None):
        return "null"
    if ann is typing.Any:
        return "any"
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return "section"
    return getattr(ann, "__name__", str(ann))


def _number(value: object) -> str:
    """A number, powers of ten of a million or more as 1eN."""
    if isinstance(value, int) and value >= 10**6 and str(value).rstrip("0") == "1":
        return f"1e{len(str(value)) - 1}"
    return str(value)


def _allowed(info: FieldInfo) -> str:
    """The field's bounds, length limits and pattern, from its constraint metadata."""
    out = []
    for m in info.metadata:
        for attr, sign in (("ge", "≥"), ("gt", ">"), ("le", "≤"), ("lt", "<")):
            if getattr(m, attr, None) is not None:
                out.append(f"{sign} {_number(getattr(m, attr))}")
        if getattr(m, "min_length", None) is not None:
            out.append(f"at least {m.min_length}")
        if getattr(m, "max_length", None) is not None:
            out.append(f"at most {m.max_length} characters")
        if getattr(m, "pattern", None):
            out.append(f"matches `{m.pattern}`")
    return ", ".join(out)


def _default(info: FieldInfo) -> str:
    """The default as YAML spells it (empty for a section, whose fields have their own)."""
    value = info.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return ""
    if value is None or isinstance(value, bool):
        return f"`{str(value).lower() if isinstance(value, bool) else 'null'}`"
    return f"`{_number(value) if isinstance(value, int) else value!r}`".replace("'", "")


def _description(path: str, info: FieldInfo) -> str:
    """The schema's description, else the note, else the section model's docstring, as a table cell:
    outside code spans <, > are escaped for markdown; everywhere | is (it would end the cell)."""
    text = info.description or NOTES.get(path)
    if not text:
        models = _models(info.annotation)
        doc = " ".join((models[0].__doc__ or "").split("\n\n")[0].split()) if models else ""
        text = doc[:1].lower() + doc[1:].rstrip(".")
    parts = " ".join(text.split()).split("`")
    return "`".join(p if i % 2 else html.escape(p, quote=False) for i, p in enumerate(parts)).replace("|", "\\|")


def rows() -> dict[str, list[Row]]:
    """The reference tables: per section path (the first place a model appears), its fields. A model
    met again (eval_sets[] are domains[], objectives[] are objective) points to its first table."""
    tables: dict[str, list[Row]] = {}
    seen: dict[type[BaseModel], str] = {}

    def walk(model: type[BaseModel], prefix: str) -> None:
        seen[model] = prefix
        table = tables.setdefault(prefix or "top level", [])
        for name, info in model.model_fields.items():
            path = f"{prefix}.{name}" if prefix else name
            table.append(Row(path, _type(info.annotation), _default(info), _allowed(info), _description(path, info)))
            origin = typing.get_origin(info.annotation)
            sub = path + ("[]" if origin is list else ".<name>" if origin is dict else "")
            for m in _models(info.annotation):
                if m in seen:
                    table[-1].description += f" (entries as `{seen[m]}`)" if seen[m] not in table[-1].description else ""
                else:
                    walk(m, sub)

    walk(Recipe, "")
    return tables


def render() -> str:
    """The reference section of docs/recipe.md, between its markers."""
    out = [BEGIN, ""]
    for section, table in rows().items():
        out += [f"### {section if section == 'top level' else f'`{section}`'}", "",
                "| field | type | default | allowed | description |", "|---|---|---|---|---|"]
        out += [f"| `{r.path}` | {r.kind} | {r.default} | {r.allowed} | {r.description} |" for r in table]
        out.append("")
    return "\n".join(out + [END])


def current(text: str) -> str:
    """The reference section as it stands in `text` (empty when the markers are missing)."""
    start, end = text.find(BEGIN), text.find(END)
    return text[start:end + len(END)] if 0 <= start < end else ""


def main(argv: list[str]) -> int:
    text = DOC.read_text()
    if not current(text):
        print(f"error: {DOC}: no reference markers", file=sys.stderr)
        return 2
    if "--check" in argv:
        return 0 if current(text) == render() else 1
    DOC.write_text(text.replace(current(text), render()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
