"""HTTP connections kept open per origin, so many packages pay one TCP and TLS handshake.

Idle ``http.client`` connections are kept per (scheme, host, port) for the life
of the process (one moss run), shared by its download threads: a download that
reads its whole body hands the connection back for the next request to the same
mirror, so a run opens at most as many connections as it has transfers at once.
A connection the server closed while idle fails on its next request before any
answer arrives; that request is sent once more on a fresh one.
Redirects are followed (at most :data:`MAX_REDIRECTS`), and the proxies of the
environment (``http_proxy``, ``https_proxy``, ``no_proxy``) are honoured as
urllib honours them.
"""

from __future__ import annotations

import http.client
import threading
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from types import TracebackType

from moss.core.errors import MossError

MAX_REDIRECTS = 5
REDIRECTS = frozenset({301, 302, 303, 307, 308})

Origin = tuple[str, str, int]


class _Pool:
    """Idle connections by origin, shared by the download threads of this process."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        # origin -> idle (connection, whether requests name the absolute URL: a plain proxy)
        self.idle: dict[Origin, list[tuple[http.client.HTTPConnection, bool]]] = {}
        self.opened = 0  # connections made so far, for tests and benchmarks

    def take(self, origin: Origin) -> tuple[http.client.HTTPConnection, bool] | None:
        with self.lock:
            idle = self.idle.get(origin)
            return idle.pop() if idle else None

    def give_back(self, origin: Origin, connection: http.client.HTTPConnection,
                  absolute: bool) -> None:
        with self.lock:
            self.idle.setdefault(origin, []).append((connection, absolute))


_pool = _Pool()


def connections_opened() -> int:
    """How many connections this process has opened so far (keep-alive reuses them)."""
    return _pool.opened


@dataclass
class Reply:
    """A response and the pooled connection it came on; returned to the pool when read."""

    response: http.client.HTTPResponse
    origin: Origin
    connection: http.client.HTTPConnection
    absolute: bool
    _kept: bool = field(default=False)

    def done(self) -> None:
        """The body was read to its end: the connection may serve the next request."""
        # read1 stops at the body's end without closing the response: length 0 says so.
        complete = self.response.isclosed() or self.response.length == 0
        if complete and not self.response.will_close:
            self.response.close()  # http.client sends no new request while it is open
            _pool.give_back(self.origin, self.connection, self.absolute)
            self._kept = True

    def discard(self) -> None:
        """Drop the connection with its unread body (cheaper than draining a big one)."""
        self.connection.close()

    def __enter__(self) -> Reply:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if not self._kept:
            self.connection.close()


def _origin(url: str) -> tuple[Origin, str]:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise http.client.InvalidURL(f"not an http(s) URL: {url}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    return (parts.scheme, parts.hostname, port), target


def _connect(origin: Origin, timeout: float) -> tuple[http.client.HTTPConnection, bool]:
    """A new connection to ``origin`` (through a proxy if the environment says so);
    True when requests must name the absolute URL (a plain http proxy)."""
    scheme, host, port = origin
    proxy = urllib.request.getproxies().get(scheme)
    if proxy and not urllib.request.proxy_bypass(host):
        proxy_parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
        proxy_host, proxy_port = proxy_parts.hostname or "", proxy_parts.port or 80
        if scheme == "http":
            return http.client.HTTPConnection(proxy_host, proxy_port, timeout=timeout), True
        tunnel = http.client.HTTPSConnection(proxy_host, proxy_port, timeout=timeout)
        tunnel.set_tunnel(host, port)
        return tunnel, False
    if scheme == "https":
        return http.client.HTTPSConnection(host, port, timeout=timeout), False
    return http.client.HTTPConnection(host, port, timeout=timeout), False


def _request(url: str, headers: dict[str, str], timeout: float) -> Reply:
    origin, target = _origin(url)
    pooled = _pool.take(origin)
    for reused in ((True, False) if pooled is not None else (False,)):
        if reused and pooled is not None:
            connection, absolute = pooled
            connection.timeout = timeout
            if connection.sock is not None:
                connection.sock.settimeout(timeout)
        else:
            connection, absolute = _connect(origin, timeout)
            with _pool.lock:
                _pool.opened += 1
        try:
            connection.request("GET", url if absolute else target, headers=headers)
            return Reply(connection.getresponse(), origin, connection, absolute)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            connection.close()
            if not reused:
                raise
        except BaseException:
            connection.close()
            raise
    raise AssertionError("unreachable")


def get(url: str, headers: dict[str, str], timeout: float) -> Reply:
    """GET ``url`` on a kept-alive connection, following redirects; the caller reads
    the body, then calls :meth:`Reply.done` (or closes the reply to drop it)."""
    for _ in range(MAX_REDIRECTS):
        reply = _request(url, headers, timeout)
        location = reply.response.headers.get("Location")
        if reply.response.status not in REDIRECTS or not location:
            return reply
        reply.discard()
        target = urllib.parse.urljoin(url, location)
        if server(target) != server(url):
            # An index's packages must come from its own server (package_url); a
            # redirect to another port or host would sidestep that (issue 23, rule 5).
            raise MossError(f"{url}: the server redirects to {target!r}, another server "
                            "(scheme, host or port); refused")
        url = target
    raise http.client.HTTPException(f"more than {MAX_REDIRECTS} redirects")


def server(url: str) -> tuple[str, str, int]:
    """Scheme, host and port (the scheme's default when none is written) of ``url``."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1  # a port out of range or not a number: equal to no other server
    default = {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default
