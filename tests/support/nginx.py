"""A real nginx on 127.0.0.1 for the repository tests: Debian's package, no root needed.

``nginx -p DIR -c DIR/nginx.conf`` with a generated configuration: one server
on a free port serving ``DIR/www``, every response logged with the bytes it
put on the wire (``$bytes_sent``) and the connection it used, so a test
counts what a user's refresh really costs (``/nginx-status`` is its
``stub_status``, not logged).  ``/no-etag/`` serves the same files with only
``Last-Modified`` (whole seconds) as validator.  ``/slow/`` serves the same files
at :data:`SLOW_RATE` bytes a second, to cut a transfer in the middle.
Tests that need it skip, naming the package, where nginx is not installed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

NGINX = "/usr/sbin/nginx"
SLOW_RATE = 64 << 10
LOG_FORMAT = "$request_uri|$status|$bytes_sent|$connection|$connection_requests|$http_range"


@dataclass(frozen=True)
class Hit:
    """One logged request, as nginx saw it."""

    path: str
    status: int
    bytes_sent: int
    connection: int
    connection_requests: int
    range: str


def _config(directory: Path, port: int) -> str:
    temp = directory / "temp"
    # Run by root, nginx's workers would become "nobody", who cannot read a 0700 tmp_path.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
error_log {directory}/error.log warn;
pid {directory}/nginx.pid;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    log_format bytes '{LOG_FORMAT}';
    access_log {directory}/access.log bytes;
    client_body_temp_path {temp}/body;
    proxy_temp_path {temp}/proxy;
    fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi;
    scgi_temp_path {temp}/scgi;
    sendfile on;
    keepalive_timeout 30;
    keepalive_requests 1000;
    server {{
        listen 127.0.0.1:{port};
        root {directory}/www;
        location = /nginx-status {{
            stub_status;
            access_log off;
        }}
        location /no-etag/ {{
            alias {directory}/www/;
            etag off;
        }}
        location /slow/ {{
            alias {directory}/www/;
            limit_rate {SLOW_RATE};
        }}
    }}
}}
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Nginx:
    """A running nginx; ``www`` is what it serves, ``url(path)`` where."""

    directory: Path
    port: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def www(self) -> Path:
        return self.directory / "www"

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path.lstrip('/')}"

    def publish(self, path: str, data: bytes) -> Path:
        """Put ``data`` at ``path`` atomically (a new inode: a new ETag and mtime)."""
        target = self.www / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        scratch = target.with_name(f".{target.name}.new")
        scratch.write_bytes(data)
        os.replace(scratch, target)
        return target

    def start(self) -> None:
        (self.directory / "temp").mkdir(parents=True, exist_ok=True)
        self.www.mkdir(parents=True, exist_ok=True)
        for _ in range(5):
            self.port = self.port or _free_port()
            (self.directory / "nginx.conf").write_text(_config(self.directory, self.port))
            self.process = subprocess.Popen(
                [NGINX, "-p", str(self.directory), "-c", str(self.directory / "nginx.conf"),
                 "-g", "daemon off;"], stderr=subprocess.DEVNULL)
            if self._wait_listening():
                return
            self.stop()
            self.port = 0
        raise RuntimeError(f"nginx did not start: {(self.directory / 'error.log').read_text()}")

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                return False
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return True
            except OSError:
                time.sleep(0.02)
        return False

    def stop(self) -> None:
        """Fast shutdown (SIGTERM): open connections are cut where they are."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def hits(self) -> list[Hit]:
        """Every request logged so far (nginx writes each line when its response ends)."""
        path = self.directory / "access.log"
        if not path.exists():
            return []
        result = []
        for line in path.read_text().splitlines():
            uri, status, sent, conn, conn_requests, range_header = line.split("|")
            result.append(Hit(uri, int(status), int(sent), int(conn), int(conn_requests),
                              "" if range_header == "-" else range_header))
        return result

    def active_connections(self) -> int:
        """Open client connections now (``stub_status``; the asking one not counted)."""
        with urllib.request.urlopen(self.url("nginx-status"), timeout=5) as status:
            first = status.read().decode().splitlines()[0]  # "Active connections: N"
        return int(first.split(":")[1]) - 1

    def bytes_sent(self) -> int:
        return sum(hit.bytes_sent for hit in self.hits())

    def clear_log(self) -> None:
        """Start counting afresh (nginx keeps its descriptor: truncate, not remove)."""
        with (self.directory / "access.log").open("r+b") as log:
            log.truncate(0)


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[Nginx]:
    if shutil.which(NGINX) is None and not Path(NGINX).exists():
        pytest.skip("nginx is not installed (Debian package nginx; scripts/setup.sh installs it)")
    server = Nginx(tmp_path / "nginx")
    server.start()
    try:
        yield server
    finally:
        server.stop()
