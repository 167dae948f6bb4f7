"""Text that is not UTF-8 is counted per domain, reported, and refused above data.max_decode_errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mixsearch.data.prepare import prepare
from mixsearch.data.sources import DecodeStats
from mixsearch.errors import UserError
from mixsearch.recipe.schema import parse_recipe
from tests.conftest import cli, write_recipe


def test_decode_stats_count_invalid_bytes():
    stats = DecodeStats()
    assert stats.decode("héllo".encode()) == "héllo"
    assert stats.decode(b"ab\xff\xfecd\xc3") == "ab\ufffd\ufffdcd\ufffd"
    assert (stats.bytes, stats.undecodable) == (13, 3)


def _binary_domain(recipe_dict: dict, tmp_path: Path) -> dict:
    """The code domain plus one binary file that ships with Python (a compiled extension module)."""
    code = tmp_path / "code"
    shutil.copytree(Path(recipe_dict["domains"][0]["source"]["files"][0]).parent, code)
    import _decimal

    shutil.copy(_decimal.__file__, code / "binary.txt")
    recipe_dict["domains"][0]["source"] = {"files": [str(code / "*.txt")]}
    return recipe_dict


def test_a_domain_with_a_binary_file_is_refused_with_its_share(recipe_dict, tmp_path):
    recipe = parse_recipe(_binary_domain(recipe_dict, tmp_path), "r.yaml")
    with pytest.raises(UserError, match=r"domain code: \d+\.\d\d% of its bytes \([\d,]+ of [\d,]+\) are not valid "
                                        r"UTF-8, above data.max_decode_errors = 0.001"):
        prepare(recipe)
    recipe_dict["data"]["max_decode_errors"] = 1.0
    data = prepare(parse_recipe(recipe_dict, "r.yaml"))
    code = data.domains["code"]
    assert 0.001 < code.undecodable_bytes / code.text_bytes < 1
    assert data.domains["docs"].undecodable_bytes == 0 and data.domains["docs"].text_bytes > 0
    recipe_dict["data"]["max_decode_errors"] = 0.0001  # a lower limit is checked on cached tokens too
    with pytest.raises(UserError, match="domain code: .* not valid UTF-8"):
        prepare(parse_recipe(recipe_dict, "r.yaml"))


def test_data_prepare_reports_undecodable_bytes(recipe_dict, tmp_path):
    recipe_dict = _binary_domain(recipe_dict, tmp_path)
    recipe = write_recipe(tmp_path / "r.yaml", recipe_dict)
    res = cli("data", "prepare", str(recipe), cwd=tmp_path, check=False)
    assert res.returncode == 2 and res.stderr.strip().splitlines()[-1].startswith("error: domain code: ")
    recipe_dict["data"]["max_decode_errors"] = 1.0
    write_recipe(recipe, recipe_dict)
    out = json.loads(cli("data", "prepare", str(recipe), "--json", cwd=tmp_path).stdout)
    assert out["domains"]["code"]["undecodable_bytes"] > 0 and out["domains"]["docs"]["undecodable_bytes"] == 0
