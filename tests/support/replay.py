"""A local HTTP(S) server that replays recorded cloud API responses from `fixtures/cloud/`.

Cloud SDKs (Azure, Google) are pointed at it through their endpoint settings, so the real SDK
code — serialisation, auth headers, paging, error mapping — runs, against fixed answers.
Every request is recorded so tests can prove the collectors only read.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

CLOUD_FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cloud"
# Recorded timestamps that a verdict depends on are stored relative to "now", so an age
# check gives the same verdict whichever day the suite runs: "{{days_ago:30}}" (RFC 3339;
# negative for the future) or "{{unix_days_ago:30}}" (a JSON number of epoch seconds, as
# Azure Key Vault writes them).
_DAYS_AGO = re.compile(r"\{\{days_ago:(-?\d+)\}\}")
_UNIX_DAYS_AGO = re.compile(r"\{\{unix_days_ago:(-?\d+)\}\}")
# A past date is placed this much further back: the collector stamps its observation time
# (whole seconds) before the server answers, so "45 days ago" made a moment later read as
# 44 days and 23:59:59 whenever a second ticked in between (a flaky verdict message).
_PAST_MARGIN_S = 3600


def _seconds_ago(days: int) -> int:
    return days * 86400 + (_PAST_MARGIN_S if days > 0 else 0)


def _rfc3339_days_ago(days: int) -> str:
    moment = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=_seconds_ago(days))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000123Z")  # whole seconds, Vault-style ns


def _materialise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _materialise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_materialise(v) for v in value]
    if isinstance(value, str):
        unix = _UNIX_DAYS_AGO.fullmatch(value)
        if unix:
            return int(time.time()) - _seconds_ago(int(unix.group(1)))
        return _DAYS_AGO.sub(lambda m: _rfc3339_days_ago(int(m.group(1))), value)
    return value


@dataclass
class Replay:
    url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


def load_recording(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CLOUD_FIXTURES / f"{name}.json").read_text())
    return data


@contextmanager
def replay_server(recording: str | dict[str, Any], tls: tuple[Path, Path] | None = None
                  ) -> Iterator[Replay]:
    """Serve `fixtures/cloud/<recording>.json`: {"interactions": [{"method", "path",
    "status", "body"}], "not_found": {...}, "challenge": {...}}; `tls` = (certificate, key)
    for HTTPS. With "challenge" ({"www_authenticate", "body"}), a request without an
    Authorization header is answered 401 with that WWW-Authenticate header, as Azure Key
    Vault answers the first, unauthenticated request of its challenge protocol."""
    data = load_recording(recording) if isinstance(recording, str) else recording
    routes = {(i["method"].upper(), i["path"]): i for i in data["interactions"]}
    not_found = data.get("not_found", {"error": {"code": "NotFound", "message": "not found"}})
    challenge = data.get("challenge")
    seen: list[tuple[str, str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            path = urlsplit(self.path).path
            headers = {k.lower(): v for k, v in self.headers.items()}
            seen.append((self.command, path, headers))
            if challenge is not None and "authorization" not in headers:
                body = json.dumps(challenge["body"]).encode()
                self.send_response(401)
                self.send_header("WWW-Authenticate", challenge["www_authenticate"])
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            hit = routes.get((self.command, path))
            status = hit["status"] if hit else 404
            body = json.dumps(_materialise(hit["body"]) if hit else not_found).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("x-ms-request-id", "replay")
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    scheme = "http"
    if tls is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(str(tls[0]), str(tls[1]))
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Replay(url=f"{scheme}://localhost:{server.server_address[1]}", requests=seen)
    finally:
        server.shutdown()
        server.server_close()
