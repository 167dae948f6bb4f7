"""Fast start-up: the CLI module imports no heavy library, and parameter counts need no model."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from mixsearch.recipe.proxy import Model
from mixsearch.search.fidelity import model_params

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


def test_a_regression_fit_and_its_report_need_no_torch():
    """`fit --surrogate linear` loads neither torch nor LightGBM (~25 s wall when it loaded them): the surrogate
    registry imports a family's module only when it is used, and validate/report import no trainer."""
    code = ("import sys, mixsearch.report.html, mixsearch.search.validate, mixsearch.surrogate.cv; "
            "from mixsearch.surrogate.base import make_surrogate, known_surrogates; "
            "assert 'gp' in known_surrogates() and 'mixing_law' in known_surrogates(); make_surrogate('linear'); "
            "print(' '.join(m for m in ('torch', 'botorch', 'lightgbm', 'ray') if m in sys.modules))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert res.stdout.strip() == ""


def test_spearman_matches_scipy_with_ties():
    from scipy.stats import spearmanr

    from mixsearch.surrogate.cv import spearman

    rng = np.random.default_rng(0)
    for _ in range(50):
        a, b = rng.integers(0, 5, 30).astype(float), np.round(rng.normal(size=30), 1)
        assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)
    assert spearman(np.ones(5), np.arange(5.0)) == 0.0
