"""data fetch: archives come from the index as files (no package code runs), and a directory the
command did not write is never replaced."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mixsearch.data.fetch import MANIFEST, fetch_all
from mixsearch.errors import UserError
from mixsearch.recipe.schema import parse_recipe

JSON_TYPE = "application/vnd.pypi.simple.v1+json"


def _sdist(path: Path, marker: Path) -> None:
    """A crafted sdist whose setup.py writes `marker` if anything runs it."""
    members = {
        "evil-1.0/setup.py": f"open({str(marker)!r}, 'w').write('ran')\n"
                             "from setuptools import setup\nsetup(name='evil', version='1.0')\n",
        "evil-1.0/PKG-INFO": "Metadata-Version: 2.1\nName: evil\nVersion: 1.0\n",
        "evil-1.0/docs/readme.txt": "Plain text that should be extracted.\n",
        "evil-1.0/data/blob.bin": "binary:\udcff\udcfe\udc80",
    }
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode("utf-8", errors="surrogateescape")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


class _Index(SimpleHTTPRequestHandler):
    """Static files; a project page asked for as PEP 691 JSON is served from its index.json."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.path.endswith("/") and JSON_TYPE in self.headers.get("Accept", ""):
            body = (Path(self.directory) / self.path.lstrip("/") / "index.json").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", JSON_TYPE)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        super().do_GET()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def local_index(tmp_path, monkeypatch):
    """A simple index on 127.0.0.1 holding one crafted sdist, evil==1.0; pip's index-url points at it."""
    root = tmp_path / "index"
    (root / "files").mkdir(parents=True)
    marker = tmp_path / "setup-py-ran"
    sdist = root / "files" / "evil-1.0.tar.gz"
    _sdist(sdist, marker)
    page = root / "simple" / "evil"
    page.mkdir(parents=True)
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    (page / "index.json").write_text(json.dumps({"meta": {"api-version": "1.0"}, "name": "evil", "files": [
        {"filename": "evil-1.0.tar.gz", "url": "../../files/evil-1.0.tar.gz", "hashes": {"sha256": digest}},
        {"filename": "evil-0.9.tar.gz", "url": "../../files/evil-0.9.tar.gz", "hashes": {"sha256": digest}}]}))
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Index, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/simple/")
    yield {"marker": marker, "sha256": digest, "page": page}
    server.shutdown()


def _recipe(recipe_dict: dict, tmp_path: Path, pip: str = "evil==1.0"):
    recipe_dict["domains"][0] = {"name": "code", "fetch": {"pip": pip, "include": ["docs/*.txt"]}}
    recipe_dict["data"]["raw_dir"] = str(tmp_path / "raw")
    return parse_recipe(recipe_dict, "r.yaml")


def test_fetch_downloads_an_sdist_without_running_it(recipe_dict, tmp_path, local_index):
    manifest = fetch_all(_recipe(recipe_dict, tmp_path))["code"]
    assert not local_index["marker"].exists(), "the sdist's setup.py was executed"
    assert manifest["archives"] == ["evil-1.0.tar.gz"]  # says which file it took
    assert manifest["sha256"] == {"evil-1.0.tar.gz": local_index["sha256"]}
    texts = [p.read_text() for p in (tmp_path / "raw" / "code").glob("*.txt")]
    assert texts == ["Plain text that should be extracted.\n"]


def test_fetch_rejects_a_file_whose_hash_differs(recipe_dict, tmp_path, local_index):
    index = json.loads((local_index["page"] / "index.json").read_text())
    index["files"][0]["hashes"]["sha256"] = "0" * 64
    (local_index["page"] / "index.json").write_text(json.dumps(index))
    with pytest.raises(UserError, match="does not match"):
        fetch_all(_recipe(recipe_dict, tmp_path))
    assert not (tmp_path / "raw" / "code").exists()


def test_fetch_needs_an_exact_version_the_index_has(recipe_dict, tmp_path, local_index):
    with pytest.raises(UserError, match="fetch.pip: the index has no file of evil==2.0"):
        fetch_all(_recipe(recipe_dict, tmp_path, "evil==2.0"))
    with pytest.raises(UserError, match="not NAME==VERSION"):
        fetch_all(_recipe(recipe_dict, tmp_path, "evil>=1"))


def test_fetch_never_replaces_a_directory_it_did_not_write(recipe_dict, tmp_path, local_index):
    mine = tmp_path / "raw" / "code"
    mine.mkdir(parents=True)
    (mine / "important.txt").write_text("keep me")
    recipe = _recipe(recipe_dict, tmp_path)
    with pytest.raises(UserError, match=f"{mine}: exists and was not written by `mixsearch data fetch`"):
        fetch_all(recipe)
    assert (mine / "important.txt").read_text() == "keep me"
    assert sorted(p.name for p in mine.parent.iterdir()) == ["code"]  # no temp dir left behind
    (mine / "important.txt").unlink()
    mine.rmdir()
    fetch_all(recipe)  # its own directory: refetched in place when the spec changes
    recipe.domains[0].fetch.max_bytes = 10
    assert fetch_all(recipe)["code"]["bytes"] == 10
    assert (mine / MANIFEST).exists() and sorted(p.name for p in mine.parent.iterdir()) == ["code"]


def test_fetched_bytes_that_are_not_utf8_reach_prepare_to_be_counted(recipe_dict, tmp_path, local_index):
    from mixsearch.data.sources import DecodeStats, iter_documents

    recipe = _recipe(recipe_dict, tmp_path)
    recipe.domains[0].fetch.include = ["docs/*.txt", "data/*.bin"]
    fetch_all(recipe)
    stats = DecodeStats()
    docs = sorted(iter_documents(recipe, recipe.domains[0], stats))
    assert docs == ["Plain text that should be extracted.\n", "binary:\ufffd\ufffd\ufffd"]
    assert stats.undecodable == 3


def test_fetch_reads_a_pep503_html_index_in_a_directory(recipe_dict, tmp_path, local_index, monkeypatch):
    """A static index (file://, HTML pages) as pip's find-links mirrors are laid out."""
    page = local_index["page"]
    (page / "index.html").write_text(f'<html><body><a href="../../files/evil-1.0.tar.gz#sha256='
                                     f'{local_index["sha256"]}">evil-1.0.tar.gz</a></body></html>')
    monkeypatch.setenv("PIP_INDEX_URL", page.parent.as_uri())
    manifest = fetch_all(_recipe(recipe_dict, tmp_path))["code"]
    assert manifest["archives"] == ["evil-1.0.tar.gz"] and not local_index["marker"].exists()
