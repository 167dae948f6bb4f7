"""Task eval sets (a context and a continuation per JSONL line) are scored on the continuation only,
in bits per byte; every loss can be reported in bits per byte, so tokenizers compare."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from mixsearch.data.prepare import prepare
from mixsearch.errors import UserError
from mixsearch.proxy.batched import stack_members
from mixsearch.proxy.evaluate import eval_set, evaluate
from mixsearch.proxy.model import GPT
from mixsearch.proxy.spec import RunSpec
from mixsearch.proxy.train import train_proxy
from mixsearch.recipe.schema import parse_recipe
from tests.conftest import STDLIB, cli, write_recipe


def news_examples() -> list[dict]:
    """Lines of IDLE's release notes (their last 60 characters: the tiny model's context is 32)
    split in two halves (context, continuation); some of the continuations hold non-ASCII letters,
    whose UTF-8 bytes outnumber their characters."""
    text = (STDLIB / "idlelib" / "NEWS.txt").read_text()
    lines = [ln.strip()[-60:] for ln in text.splitlines() if len(ln.strip()) > 24]
    picked = lines[:30] + [ln for ln in lines if any(ord(c) > 127 for c in ln)]
    return [{"question": ln[: len(ln) // 2], "answer": ln[len(ln) // 2:]} for ln in picked]


def task_recipe(recipe_dict: dict, tmp_path: Path, rows: list[dict] | None = None, **entry) -> dict:
    path = tmp_path / "task.jsonl"
    rows = news_examples() if rows is None else rows
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    recipe_dict["eval_sets"] = [{"name": "qa", "kind": "task", "source": {"jsonl": str(path)},
                                 "context_field": "question", "continuation_field": "answer", **entry}]
    recipe_dict["proxy"]["train"]["eval_tokens"] = 10**6  # every example is scored
    return recipe_dict


def test_task_scores_continuation_bytes_only(recipe_dict, tmp_path):
    recipe = parse_recipe(task_recipe(recipe_dict, tmp_path), "t.yaml")
    data = prepare(recipe)
    examples = news_examples()
    qa = data.tasks["qa"]
    assert qa.examples == len(examples)
    assert qa.continuation_bytes == sum(len(e["answer"].encode("utf-8")) for e in examples)
    assert qa.continuation_bytes > sum(len(e["answer"]) for e in examples)  # non-ASCII: bytes, not characters
    cfg, cpu = recipe.proxy.model, torch.device("cpu")
    arrays = {n: d.val() for n, d in {**data.domains, **data.eval_sets}.items()}
    evals = eval_set(data, arrays, cfg.context, recipe.proxy.train)
    assert int(evals.tasks["qa"].mask.sum()) == qa.continuation_tokens == qa.continuation_bytes  # byte tokens
    got = evaluate(stack_members(cfg, data.vocab_size, [3], cpu), cfg.heads, evals, 8, cpu, torch.no_grad)[0]["qa"]

    torch.manual_seed(3)
    model = GPT(cfg, data.vocab_size).eval()
    nats = 0.0
    for e in examples:  # by hand: end-of-text, the context's bytes, the continuation's bytes
        ctx, cont = list(e["question"].encode()), list(e["answer"].encode())
        seq = torch.tensor([256, *ctx, *cont][-(cfg.context + 1):])
        with torch.no_grad():
            logp = F.log_softmax(model(seq[None, :-1])[0].float(), -1)
        targets = seq[1:]
        nats -= float(logp[torch.arange(len(targets)), targets][-len(cont):].sum())
    assert got == pytest.approx(nats / math.log(2) / qa.continuation_bytes, rel=1e-4)


def test_context_does_not_count(recipe_dict, tmp_path):
    """Longer contexts change the score of the same continuations, never their bytes."""
    rows = [{"question": e["question"] * 3, "answer": e["answer"]} for e in news_examples()]
    data = prepare(parse_recipe(task_recipe(recipe_dict, tmp_path, rows), "t.yaml"))
    assert data.tasks["qa"].continuation_bytes == sum(len(r["answer"].encode()) for r in rows)


def test_training_reports_tasks_and_bits_per_byte(recipe_dict, tmp_path):
    recipe = parse_recipe(task_recipe(recipe_dict, tmp_path), "t.yaml")
    data = prepare(recipe)
    runs = {}
    for units in ("nats", "bpb"):
        train = recipe.proxy.train.model_copy(update={"report_units": units})
        spec = RunSpec("r", {"code": 0.3, "docs": 0.3, "news": 0.4}, 0, recipe.proxy.model.model_dump(),
                       train.model_dump()).to_dict()
        runs[units] = train_proxy(spec, data.to_dict())
        assert runs[units]["status"] == "done", runs[units]["error"]
    nats, bpb = runs["nats"]["losses"], runs["bpb"]["losses"]
    assert bpb["qa"] == nats["qa"] and 0 < bpb["qa"] < 12  # a task is in bits per byte either way
    for name, d in data.domains.items():  # held-out text: nats/token x tokens/bytes / ln 2
        assert bpb[name] == pytest.approx(nats[name] * d.val_tokens / d.val_bytes / math.log(2), rel=1e-6)


def test_bytes_do_not_depend_on_the_tokenizer(recipe_dict, tmp_path):
    """An eval set's validation tokens stand for the same UTF-8 bytes under the byte tokenizer and
    a BPE (every token of an eval set is validation), so bits per byte compare across them."""
    news = STDLIB / "idlelib" / "NEWS.txt"
    recipe_dict["eval_sets"] = [{"name": "held", "source": {"files": [str(news)]}}]
    found = {}
    for kind in ("byte", "bpe"):
        recipe_dict["tokenizer"] = {"kind": kind, "vocab_size": 512, "train_bytes": 200_000}
        found[kind] = prepare(parse_recipe(recipe_dict, "t.yaml")).eval_sets["held"]
    assert found["byte"].val_bytes == found["bpe"].val_bytes == len(news.read_bytes())
    assert found["bpe"].val_tokens < found["byte"].val_tokens / 1.5


@pytest.mark.parametrize("rows, message", [
    ("{not json\n", "task.jsonl:1: invalid JSON"),
    ('{"question": "a"}\n', "task.jsonl:1: no field 'answer'"),
    ('{"question": "a", "answer": 3}\n', "task.jsonl:1: not a string: 'answer'"),
    ('{"question": "a", "answer": "b"}\n[1, 2]\n', "task.jsonl:2: not a JSON object"),
    ('{"question": "a", "answer": ""}\n', "task.jsonl:1: empty 'answer'"),
    ("\n\n", "no examples (every line is empty)"),
    ('{"question": "a", "answer": "' + "x" * 40 + '"}\n', "example 1: the continuation has 40 tokens, more than "
                                                          "the model context of 32"),
])
def test_bad_task_files_are_one_line_errors(recipe_dict, tmp_path, rows, message):
    recipe_dict = task_recipe(recipe_dict, tmp_path, [])
    (tmp_path / "task.jsonl").write_text(rows)
    with pytest.raises(UserError) as exc:
        prepare(parse_recipe(recipe_dict, "t.yaml"))
    assert str(exc.value).startswith("eval_set qa") and str(exc.value).endswith(message)
    assert "\n" not in str(exc.value)


def test_a_smaller_context_is_checked_against_cached_tasks(recipe_dict, tmp_path):
    recipe_dict = task_recipe(recipe_dict, tmp_path, [{"question": "a", "answer": "x" * 20}])
    assert prepare(parse_recipe(recipe_dict, "t.yaml")).tasks["qa"].continuation_tokens == 20
    recipe_dict["proxy"]["model"]["context"] = 16
    with pytest.raises(UserError, match="example 1: the continuation has 20 tokens, more than the model context of 16"):
        prepare(parse_recipe(recipe_dict, "t.yaml"))


def test_a_damaged_task_cache_is_made_again(recipe_dict, tmp_path, capsys):
    recipe = parse_recipe(task_recipe(recipe_dict, tmp_path), "t.yaml")
    first = prepare(recipe).tasks["qa"]
    Path(first.path).write_bytes(b"PK\x03\x04 not a whole archive")
    again = prepare(recipe).tasks["qa"]
    assert again == first and "unreadable, made again" in capsys.readouterr().err


def test_bad_task_on_the_command_line(recipe_dict, tmp_path):
    write_recipe(tmp_path / "r.yaml", task_recipe(recipe_dict, tmp_path, []))
    (tmp_path / "task.jsonl").write_text('{"question": "a"}\n')
    res = cli("data", "prepare", "r.yaml", cwd=tmp_path, check=False)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert errors == [f"error: eval_set qa: source: {tmp_path / 'task.jsonl'}:1: no field 'answer'"]


@pytest.mark.slow
def test_a_study_searches_a_mean_over_text_and_a_task_in_bits_per_byte(recipe_dict, tmp_path):
    recipe_dict = task_recipe(recipe_dict, tmp_path)
    recipe_dict["proxy"]["train"].update(report_units="bpb", eval_tokens=1024)
    recipe_dict["objective"] = {"kind": "mean", "over": ["docs", "qa"], "weights": {"qa": 3}}
    recipe_dict["search"].update(initial_runs=4, rounds=0, surrogate="linear")  # the cheapest fit
    summary = json.loads(cli("run", str(write_recipe(tmp_path / "r.yaml", recipe_dict)), "--json", cwd=tmp_path).stdout)
    best = summary["best"]
    assert set(best["losses"]) == {"code", "docs", "news", "qa"}
    assert best["objective"] == pytest.approx(0.25 * best["losses"]["docs"] + 0.75 * best["losses"]["qa"])
    assert all(0 < v < 12 for v in best["losses"].values())  # bits per byte: at most ~8 for an untrained byte model


def test_a_command_trainer_is_told_its_tasks_and_bytes(recipe_dict, tmp_path):
    """A command trainer's config names a task's fields and its prepared tokens (plain arrays), and
    each eval set's validation bytes, so it can report the same bits per byte."""
    import numpy as np

    from mixsearch.execute.command import run_config
    from mixsearch.execute.trainers import command_settings

    recipe_dict["proxy"]["trainer"] = {"command": "true"}
    task_recipe(recipe_dict, tmp_path)["eval_sets"].append(
        {"name": "held", "source": {"files": [str(STDLIB / "idlelib" / "README.txt")]}})
    recipe = parse_recipe(recipe_dict, "t.yaml")
    data = prepare(recipe)
    spec = RunSpec("r", {n: 1 / len(recipe.domain_names) for n in recipe.domain_names}, 0, {}, {"tokens": 1},
                   trainer=command_settings(recipe, tmp_path / "logs"))
    config = run_config(spec, data.to_dict())
    qa, held = config["eval_sets"]["qa"], config["eval_sets"]["held"]
    assert qa["sources"]["kind"] == "task" and "field" not in qa["sources"]
    assert (qa["sources"]["context_field"], qa["sources"]["continuation_field"]) == ("question", "answer")
    with np.load(qa["tokens"], allow_pickle=False) as z:
        assert int(z["bytes"].sum()) == qa["continuation_bytes"] == sum(len(e["answer"].encode()) for e in news_examples())
        assert len(z["offsets"]) == qa["examples"] + 1
    assert held["val_bytes"] == data.eval_sets["held"].val_bytes > 0
