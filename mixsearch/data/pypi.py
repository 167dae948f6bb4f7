"""Download one release file of a PyPI package as plain bytes: no pip, so no package code runs.

The file is resolved from the index's simple API (PEP 691 JSON, or PEP 503 HTML) and checked
against the sha256 the index lists. A wheel is preferred (any platform: only its text is used),
else an sdist.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from mixsearch.errors import UserError
from mixsearch.paths import atomic

DEFAULT_INDEX = "https://pypi.org/simple/"
JSON_TYPE = "application/vnd.pypi.simple.v1+json"
SDISTS = (".tar.gz", ".zip", ".tar.bz2", ".tgz")
TIMEOUT_S = 60


@dataclass(frozen=True)
class ReleaseFile:
    filename: str
    url: str
    sha256: str


@functools.cache
def _pip_config_index() -> str:
    res = subprocess.run([sys.executable, "-m", "pip", "config", "get", "global.index-url"],
                         capture_output=True, text=True)
    return res.stdout.strip() if res.returncode == 0 else ""


def index_url() -> str:
    """pip's configured index (PIP_INDEX_URL, else `pip config`'s global.index-url), else PyPI."""
    url = os.environ.get("PIP_INDEX_URL") or _pip_config_index() or DEFAULT_INDEX
    return url if url.endswith("/") else url + "/"


def parse_pin(spec: str) -> tuple[str, str]:
    """NAME==VERSION → (canonical name, version)."""
    name, sep, version = spec.partition("==")
    if not sep or not name.strip() or not version.strip() or any(c in version for c in "=<>!~,;"):
        raise UserError(f"'{spec}' is not NAME==VERSION (fetch needs an exact version)", where="fetch.pip")
    return canonicalize_name(name.strip().split("[")[0]), version.strip()


class _Anchors(HTMLParser):
    """The links of a PEP 503 project page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.links.append(dict(attrs))


def _open(url: str, accept: str | None = None):
    cafile = os.environ.get("PIP_CERT") or None
    ctx = ssl.create_default_context(cafile=cafile) if url.startswith("https:") else None
    req = urllib.request.Request(url, headers={"Accept": accept} if accept else {})
    return urllib.request.urlopen(req, timeout=TIMEOUT_S, context=ctx)


def _project_files(index: str, name: str) -> list[dict]:
    """The files of a project as PEP 691 dicts (filename, url, hashes, yanked)."""
    page = urllib.parse.urljoin(index, f"{name}/")
    target = page + "index.html" if page.startswith("file:") else page  # a directory of static pages
    try:
        with _open(target, f"{JSON_TYPE}, text/html;q=0.1") as resp:
            body, ctype = resp.read(), resp.headers.get("Content-Type", "")
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(f"cannot read {page}: {getattr(exc, 'reason', exc)}", where="fetch.pip") from None
    if "json" in ctype or body.lstrip().startswith(b"{"):
        files = json.loads(body).get("files", [])
        return [{**f, "url": urllib.parse.urljoin(page, f["url"])} for f in files]
    parser = _Anchors()
    parser.feed(body.decode("utf-8", errors="replace"))
    files = []
    for link in parser.links:
        href = link.get("href") or ""
        url, _, fragment = urllib.parse.urljoin(page, href).partition("#")
        algo, _, digest = fragment.partition("=")
        files.append({"filename": Path(urllib.parse.urlparse(url).path).name, "url": url,
                      "hashes": {algo: digest} if digest else {}, "yanked": "data-yanked" in link})
    return files


def _name_version(filename: str) -> tuple[str, str] | None:
    if filename.endswith(".whl"):
        parts = filename[:-4].split("-")
        return (parts[0], parts[1]) if len(parts) >= 5 else None
    for ext in SDISTS:
        if filename.endswith(ext):
            name, sep, version = filename[: -len(ext)].rpartition("-")
            return (name, version) if sep else None
    return None


def _same_version(a: str, b: str) -> bool:
    try:
        return Version(a) == Version(b)
    except InvalidVersion:
        return a == b


def choose(files: list[dict], name: str, version: str) -> ReleaseFile:
    """The release file of NAME==VERSION: a wheel if there is one, else an sdist; never a yanked one."""
    matching = []
    for f in files:
        nv = _name_version(f["filename"])
        if nv and canonicalize_name(nv[0]) == name and _same_version(nv[1], version) and not f.get("yanked"):
            matching.append(f)
    if not matching:
        raise UserError(f"the index has no file of {name}=={version}", where="fetch.pip")
    best = sorted(matching, key=lambda f: (not f["filename"].endswith(".whl"),
                                           "none-any" not in f["filename"], f["filename"]))[0]
    digest = (best.get("hashes") or {}).get("sha256")
    if not digest or not re.fullmatch(r"[0-9a-fA-F]{64}", digest):
        raise UserError(f"the index lists no sha256 for {best['filename']}", where="fetch.pip")
    return ReleaseFile(best["filename"], best["url"], digest.lower())


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(spec: str, dest: Path) -> Path:
    """Download the release file of `spec` (NAME==VERSION) into dest, checked against its sha256;
    a file already there with the right hash is reused."""
    name, version = parse_pin(spec)
    release = choose(_project_files(index_url(), name), name, version)
    if Path(release.filename).name != release.filename or release.filename.startswith("."):
        raise UserError(f"unsafe file name '{release.filename}' in the index", where="fetch.pip")
    path = dest / release.filename
    if path.exists() and sha256_of(path) == release.sha256:
        return path
    try:
        with atomic(path) as tmp:
            h = hashlib.sha256()
            with _open(release.url) as resp, tmp.open("wb") as out:
                for block in iter(lambda: resp.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
            if h.hexdigest() != release.sha256:
                raise UserError(f"{release.filename}: sha256 {h.hexdigest()} does not match the index's "
                                f"{release.sha256}", where="fetch.pip")
    except (urllib.error.URLError, OSError) as exc:
        raise UserError(f"cannot download {release.url}: {getattr(exc, 'reason', exc)}", where="fetch.pip") from None
    return path
