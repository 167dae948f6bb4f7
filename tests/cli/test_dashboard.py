"""`mixsearch dashboard`: serves the study's page on loopback, answers 'unchanged' while no run
lands, writes nothing in the study, and a port in use is one error line."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import urllib.request

import pytest

from mixsearch.errors import EXIT_INPUT
from tests.conftest import cli
from tests.report.conftest import imported_study

WAIT_S = 120  # hang guard only


def _files(root) -> dict[str, int]:
    return {str(p.relative_to(root)): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def _get(url: str) -> tuple[int, bytes]:
    with urllib.request.urlopen(url, timeout=WAIT_S) as res:
        return res.status, res.read()


def test_the_dashboard_serves_the_page_on_loopback_and_writes_nothing(tmp_path):
    study, path = imported_study(tmp_path)
    before = _files(study.store.root)
    proc = subprocess.Popen([sys.executable, "-m", "mixsearch", "dashboard", str(path), "--port", "0",
                             "--runs-dir", str(tmp_path / "runs")], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stderr.readline()
        port = re.match(r"dashboard: http://127\.0\.0\.1:(\d+)/ \(this machine only\)$", first.strip()).group(1)
        assert f"ssh -N -L {port}:127.0.0.1:{port}" in proc.stderr.readline()
        base = f"http://127.0.0.1:{port}/"
        status, page = _get(base)
        assert status == 200 and b"<h2>Recommendation</h2>" in page and b'<script src="plotly.js">' in page
        mark = re.search(rb"data-live='(\w+)'", page).group(1).decode()
        status, doc = _get(base + "api/sections?since=stale")
        sections = json.loads(doc)
        assert sections["fingerprint"] == mark and [s["key"] for s in sections["sections"]][0] == "answer"
        assert _get(base + f"api/sections?since={mark}") == (204, b"")  # nothing landed: nothing to send
        status, js = _get(base + "plotly.js")
        assert status == 200 and len(js) > 1_000_000  # the library, from the installed package
        assert _files(study.store.root) == before
        with pytest.raises(urllib.error.HTTPError, match="404"):
            _get(base + "../runs")
    finally:
        proc.terminate()
        proc.wait(timeout=WAIT_S)


def test_a_port_in_use_is_one_error_line(tmp_path):
    _, path = imported_study(tmp_path, fitted=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        res = cli("dashboard", str(path), "--port", str(port), "--runs-dir", str(tmp_path / "runs"), cwd=tmp_path,
                  check=False)
    assert res.returncode == EXIT_INPUT
    assert res.stderr.strip().splitlines() == [
        f"error: --port: cannot listen on 127.0.0.1:{port}: Address already in use"]
