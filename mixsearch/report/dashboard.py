"""The live dashboard: the report's page served over HTTP, refreshed as runs land. The page polls
`api/sections?since=<fingerprint>`; the server answers 204 while the study's files are unchanged,
else the sections built anew (built once per change, however many pages poll). It only reads the
study; the plotting library is served from the installed package (no network needed)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from mixsearch.report.html import render, sections_json
from mixsearch.report.page import Section, build, fingerprint, title
from mixsearch.search.study import Study


class Pages:
    """The study's sections, rebuilt only when its fingerprint changes."""

    def __init__(self, study: Study, recipe: str) -> None:
        self.study, self.recipe = study, recipe
        self._lock = threading.Lock()
        self._mark, self._sections = "", list[Section]()

    def current(self) -> tuple[str, list[Section]]:
        with self._lock:
            mark = fingerprint(self.study)
            if mark != self._mark:
                self._sections, self._mark = build(self.study, self.recipe), mark
            return self._mark, self._sections


def _handler(pages: Pages, plotly_js: Callable[[], str]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
            url = urlsplit(self.path)
            try:
                if url.path == "/":
                    mark, sections = pages.current()
                    page = render(title(pages.study), sections, '<script src="plotly.js"></script>', mark)
                    self._send("text/html", page)
                elif url.path == "/plotly.js":
                    self._send("application/javascript", plotly_js(), cache=True)
                elif url.path == "/api/sections":
                    mark, sections = pages.current()
                    if parse_qs(url.query).get("since", [""])[0] == mark:
                        self.send_response(HTTPStatus.NO_CONTENT)
                        self.end_headers()
                    else:
                        self._send("application/json", sections_json(sections, mark))
                else:
                    self.send_error(HTTPStatus.NOT_FOUND)
            except Exception as exc:  # a store being rewritten, a fit file mid-swap: the page retries
                print(f"warning: dashboard: {type(exc).__name__}: {exc}", file=sys.stderr)
                self.send_error(HTTPStatus.SERVICE_UNAVAILABLE)

        def _send(self, kind: str, text: str, cache: bool = False) -> None:
            body = text.encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", f"{kind}; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "max-age=86400" if cache else "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (http.server's name)
            """Requests are not logged: the page polls every few seconds."""

    return Handler


def serve(study: Study, recipe: str, host: str, port: int) -> ThreadingHTTPServer:
    """A server for the study's dashboard on host:port (port 0: a free one), not yet serving."""
    from functools import cache

    from plotly.offline import get_plotlyjs

    server = ThreadingHTTPServer((host, port), _handler(Pages(study, recipe), cache(get_plotlyjs)))
    server.daemon_threads = True
    return server


def how_to_reach(host: str, port: int) -> list[str]:
    """Lines telling the user where the dashboard is, and how to reach a loopback one over SSH."""
    if host in ("127.0.0.1", "localhost", "::1"):
        return [f"dashboard: http://{host}:{port}/ (this machine only)",
                f"from another machine: ssh -N -L {port}:127.0.0.1:{port} USER@THIS_HOST, "
                f"then open http://localhost:{port}/"]
    return [f"dashboard: http://{host}:{port}/",
            f"warning: bound to {host}: anyone who can reach this machine on port {port} can read the study"]
