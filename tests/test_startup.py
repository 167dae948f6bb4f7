"""Fast start-up: the CLI module imports no heavy library, and parameter counts need no model."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mixsearch.recipe import Model
from mixsearch.study import model_params

HEAVY = ("torch", "scipy", "ray", "botorch", "gpytorch", "lightgbm", "matplotlib", "sklearn", "optuna")


def test_importing_the_cli_imports_no_heavy_library():
    code = f"import sys, mixsearch.cli; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


@pytest.mark.parametrize(("layers", "width", "heads", "context", "mlp", "vocab"),
                         [(1, 32, 2, 32, None, 257), (2, 128, 4, 128, None, 2048), (3, 64, 8, 256, 96, 300)])
def test_parameter_formula_matches_the_model(layers, width, heads, context, mlp, vocab):
    import torch

    from mixsearch.proxy.model import GPT

    model = Model(layers=layers, width=width, heads=heads, context=context, mlp=mlp)
    with torch.device("meta"):
        expected = GPT(model, vocab).num_params()
    assert model_params(model, vocab) == expected
