"""Downloading indexes and packages: resumable, retried where that can help, verified.

A download goes to ``DEST.part`` and is renamed over ``DEST`` only when it is
complete and matches what the index promised, so an interrupted or corrupt
transfer never looks like a usable file.  A ``.part`` left by an earlier
attempt is resumed with an HTTP ``Range`` request.

Retried (a few times, with growing pauses): timeouts, connection resets, a
body shorter than announced, a stalled transfer, and 5xx answers.  Not retried:
4xx answers (a 404 will still be a 404) and a complete file with the wrong digest.

A server is not trusted to stop: moss never writes more than the size the index
declares for a package (or :data:`MAX_INDEX_BYTES` for an index), and a transfer
that moves less than :data:`STALL_BYTES` in :data:`STALL_SECONDS` is cut, so a
server that sends forever cannot fill the disk and one that trickles cannot hold
moss forever.
"""

from __future__ import annotations

import http.client
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moss import __version__
from moss.core.errors import MossError
from moss.core.hashing import sha256_file

CHUNK = 1 << 16
# The most an index (or its signature) may be: a 100 000-package index is ~40 MiB.
MAX_INDEX_BYTES = 256 << 20
# Like curl's --speed-limit/--speed-time: under 1 KiB in 30 s is a stalled transfer.
STALL_BYTES = 1024
STALL_SECONDS = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.5

OnBytes = Callable[[int], None]


@dataclass(frozen=True)
class FetchOptions:
    """How patient to be; tests shrink these so failures are quick."""

    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    stall_seconds: float = STALL_SECONDS


class _Stall:
    """Notices a transfer that moves less than STALL_BYTES in ``seconds``."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.since = time.monotonic()
        self.moved = 0

    def check(self, received: int) -> None:
        self.moved += received
        now = time.monotonic()
        if now - self.since < self.seconds:
            return
        if self.moved < STALL_BYTES:
            raise _Retryable(f"stalled: under {STALL_BYTES} bytes in {self.seconds:g} s")
        self.since, self.moved = now, 0


class _Retryable(Exception):
    """A failure another attempt may fix; carries the user-facing reason."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _too_long(url: str, limit: int) -> MossError:
    return MossError(f"{url}: expected {limit} bytes, but the server sends more; refused")


def _copy_file_url(url: str, part: Path, on_bytes: OnBytes, limit: int) -> None:
    source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    try:
        with source.open("rb") as src, part.open("wb") as out:
            written = 0
            for block in iter(lambda: src.read(CHUNK), b""):
                written += len(block)
                if written > limit:
                    raise _too_long(url, limit)
                out.write(block)
                on_bytes(len(block))
    except FileNotFoundError:
        raise MossError(f"{url}: not found") from None
    except OSError as exc:
        raise MossError(f"{url}: {exc.strerror or exc}") from None


def _http_attempt(
    url: str, part: Path, options: FetchOptions, on_bytes: OnBytes, limit: int
) -> None:
    """One request; appends to ``part`` when the server honours our Range.

    Never lets ``part`` grow past ``limit`` bytes, whatever the server sends or
    announces, and cuts a stalled transfer (``read1`` returns what has arrived,
    so a trickle is seen as one).
    """
    have = part.stat().st_size if part.exists() else 0
    with _open(url, part, have, options) as response:
        resuming = response.status == 206
        if not resuming and have:
            on_bytes(-have)
        expected = response.headers.get("Content-Length")
        start = have if resuming else 0
        if expected is not None and expected.isdigit() and start + int(expected) > limit:
            raise _too_long(url, limit)
        received = _receive(url, response, part, start, limit, options, on_bytes)
    # http.client does not report a body shorter than Content-Length on read(n).
    if expected is not None and expected.isdigit() and received < int(expected):
        raise _Retryable(f"transfer cut short after {received} of {expected} bytes")


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port (the scheme's default when none is written) of ``url``."""
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1  # a port out of range or not a number: equal to no other origin
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return parts.scheme.lower(), (parts.hostname or "").lower(), port or default


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only on the server the URL named: same scheme, host and port.

    An index's packages must come from its own server (``moss.repo.index.package_url``);
    a redirect to another port or host would sidestep that, for packages and indexes
    alike, so it is refused instead of followed.
    """

    def redirect_request(self, req: urllib.request.Request, fp: object, code: int, msg: str,
                         headers: object, newurl: str) -> urllib.request.Request | None:
        target = urllib.parse.urljoin(req.full_url, newurl)
        if origin(target) != origin(req.full_url):
            raise MossError(f"{req.full_url}: the server redirects to {target!r}, another "
                            "server (scheme, host or port); refused")
        return super().redirect_request(req, fp, code, msg, headers, newurl)  # type: ignore[arg-type]


_OPENER = urllib.request.build_opener(_SameOriginRedirects)


def _open(url: str, part: Path, have: int, options: FetchOptions) -> http.client.HTTPResponse:
    """The response to a GET (from byte ``have`` on); failures sorted into retry or not."""
    request = urllib.request.Request(url, headers={"User-Agent": f"moss/{__version__}"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response: http.client.HTTPResponse = _OPENER.open(request, timeout=options.timeout)
        return response
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:
            # Our partial file is no prefix of the current one: start over.
            part.unlink()
            raise _Retryable("the server refused to resume") from None
        if exc.code >= 500:
            raise _Retryable(f"server error {exc.code} {exc.reason}") from None
        raise MossError(f"{url}: {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, ConnectionError)):
            raise _Retryable(f"connection failed: {reason}") from None
        raise MossError(f"{url}: {reason}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise _Retryable(f"connection failed: {exc or type(exc).__name__}") from None


def _receive(url: str, response: http.client.HTTPResponse, part: Path, start: int,
             limit: int, options: FetchOptions, on_bytes: OnBytes) -> int:
    """Write the body to ``part`` after its first ``start`` bytes (0: from scratch),
    never past ``limit`` bytes in all; how many bytes were received."""
    received = 0
    stall = _Stall(options.stall_seconds)
    try:
        with part.open("ab" if start else "wb") as out:
            while block := response.read1(CHUNK):
                if start + received + len(block) > limit:
                    raise _too_long(url, limit)
                out.write(block)
                received += len(block)
                on_bytes(len(block))
                stall.check(len(block))
    except http.client.IncompleteRead:
        raise _Retryable("transfer cut short") from None
    except TimeoutError:
        raise _Retryable("timed out while receiving") from None
    except ConnectionError as exc:
        raise _Retryable(f"connection lost: {exc}") from None
    return received


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    size: int | None = None,
    options: FetchOptions | None = None,
    on_bytes: OnBytes | None = None,
) -> None:
    """Fetch ``url`` into ``dest`` (via ``dest.part``); checks ``size`` and ``sha256`` if given.

    Without a ``size`` (an index), at most :data:`MAX_INDEX_BYTES` are accepted.
    Raises MossError naming the URL on failure; ``dest`` is then untouched.
    """
    options = options or FetchOptions()
    limit = size if size is not None else MAX_INDEX_BYTES
    report: OnBytes = on_bytes or (lambda _n: None)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    try:
        _transfer(url, part, options, report, limit)
    except _GaveUp as exc:
        # The network's failure: the .part stays, and the next attempt resumes it.
        raise MossError(str(exc)) from None
    except (MossError, OSError):
        # Anything else (a full disk, a refused or oversized answer) takes back
        # what it wrote: a kept .part would only hold the disk and block resumes.
        part.unlink(missing_ok=True)
        raise
    _verify_and_commit(url, part, dest, sha256, size)


class _GaveUp(Exception):
    """Every attempt failed the way a network fails."""


def _transfer(url: str, part: Path, options: FetchOptions, report: OnBytes, limit: int) -> None:
    if url.startswith("file://"):
        _copy_file_url(url, part, report, limit)
    elif url.startswith(("http://", "https://")):
        attempt = 0
        while True:
            try:
                _http_attempt(url, part, options, report, limit)
                return
            except _Retryable as exc:
                attempt += 1
                if attempt > options.retries:
                    raise _GaveUp(f"{url}: {exc} (gave up after {attempt} attempts)") from None
                time.sleep(options.backoff * 2 ** (attempt - 1))
    else:
        raise MossError(f"unsupported URL {url!r}: use https://, http:// or file://")


def _verify_and_commit(
    url: str, part: Path, dest: Path, sha256: str | None, size: int | None
) -> None:
    actual_size = part.stat().st_size
    if size is not None and actual_size != size:
        # Too long cannot be resumed; too short was already retried.
        part.unlink()
        raise MossError(f"{url}: expected {size} bytes, got {actual_size}")
    if sha256 is not None:
        actual = sha256_file(part)
        if actual != sha256.lower():
            part.unlink()
            raise MossError(f"{url}: sha256 {actual} does not match the index ({sha256})")
    with part.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(part, dest)
