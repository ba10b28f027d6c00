"""A real HTTP server on 127.0.0.1 for the repository tests, and checks of the server itself.

It serves files from a dict and can be told, per path, to answer 5xx a number
of times, to cut the body short, to stall, or to ignore ``Range``.  The tests
talk to it through urllib like any mirror; nothing is mocked.
"""

from __future__ import annotations

import contextlib
import http.server
import posixpath
import re
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest


@dataclass
class Behaviour:
    fail_times: int = 0  # answer 503 this many times first
    truncate_times: int = 0  # send half the body (with the full Content-Length) this many times
    stall: float = 0.0  # sleep before the body
    ignore_range: bool = False
    endless: bool = False  # no Content-Length, then ENDLESS_BYTES of zeros (a bound: it stops)
    trickle: float = 0.0  # one byte every this many seconds, TRICKLE_BYTES at most
    rate: int = 0  # a slow mirror: the body at about this many bytes a second
    range_from: int | None = None  # answer a Range with a 206 from this byte instead
    redirect: str | None = None  # answer 302 with this Location


ENDLESS_BYTES = 64 << 20
TRICKLE_BYTES = 100


@dataclass
class Site:
    files: dict[str, bytes] = field(default_factory=dict)
    behaviour: dict[str, Behaviour] = field(default_factory=dict)
    requests: list[tuple[str, str | None]] = field(default_factory=list)
    base: str = ""

    def url(self, path: str) -> str:
        return f"{self.base}/{path.lstrip('/')}"


def _handler(site: Site) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            # As real servers do, dot segments are resolved: /repo/./stone.index is one file.
            path = posixpath.normpath(self.path.split("?")[0]).replace("//", "/")
            range_header = self.headers.get("Range")
            site.requests.append((path, range_header))
            body = site.files.get(path)
            how = site.behaviour.get(path, Behaviour())
            if how.fail_times:
                how.fail_times -= 1
                self._send_status(503)
                return
            if how.redirect is not None:
                self.send_response(302)
                self.send_header("Location", how.redirect)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if body is None:
                self._send_status(404)
                return
            if how.endless or how.trickle:
                self._send_hostile(how)
                return
            start = 0
            match = re.fullmatch(r"bytes=(\d+)-", range_header or "")
            if match and not how.ignore_range:
                start = int(match.group(1)) if how.range_from is None else how.range_from
                if start >= len(body):
                    self._send_status(416)
                    return
                self.send_response(206)
                self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
            else:
                self.send_response(200)
            payload = body[start:]
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Accept-Ranges", "bytes")
            self.end_headers()
            if how.stall:
                time.sleep(how.stall)
            if how.truncate_times:
                how.truncate_times -= 1
                self.wfile.write(payload[: len(payload) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            if how.rate:
                self._send_slowly(payload, how.rate)
                return
            self.wfile.write(payload)

        def _send_slowly(self, payload: bytes, rate: int) -> None:
            piece = 8192
            try:
                for at in range(0, len(payload), piece):
                    self.wfile.write(payload[at:at + piece])
                    self.wfile.flush()
                    time.sleep(piece / rate)
            except OSError:
                self.close_connection = True  # the client hung up

        def _send_hostile(self, how: Behaviour) -> None:
            """A server that does not stop, or barely moves; bounded so the test ends."""
            self.send_response(200)
            self.end_headers()
            self.close_connection = True
            try:
                if how.endless:
                    block = bytes(1 << 16)
                    for _ in range(ENDLESS_BYTES // len(block)):
                        self.wfile.write(block)
                else:
                    for _ in range(TRICKLE_BYTES):
                        self.wfile.write(b"x")
                        self.wfile.flush()
                        time.sleep(how.trickle)
            except OSError:
                pass  # the client hung up, as it should

        def _send_status(self, code: int) -> None:
            self.send_response(code)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


@pytest.fixture
def site() -> Iterator[Site]:
    with serve_site() as served:
        yield served


class _Server(http.server.ThreadingHTTPServer):
    """A client that hangs up (moss cutting short a download it refuses) is not the
    server's error: socketserver would print its traceback to stderr, into the
    captured output of the moss under test.  Other errors still print."""

    def handle_error(self, request: object, client_address: object) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]


@contextlib.contextmanager
def serve_site() -> Iterator[Site]:
    """A Site on its own port (tests that need a second server open one more)."""
    site = Site()
    server = _Server(("127.0.0.1", 0), _handler(site))
    server.daemon_threads = True
    site.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()


def test_server_honours_range(site: Site) -> None:
    site.files["/f"] = b"0123456789"
    request = urllib.request.Request(site.url("f"), headers={"Range": "bytes=4-"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 206
        assert response.read() == b"456789"
