"""Downloading indexes and packages: resumable, retried where that can help, verified.

A download goes to ``DEST.part`` and is renamed over ``DEST`` only when it is
complete and matches what the index promised, so an interrupted or corrupt
transfer never looks like a usable file.  A ``.part`` left by an earlier
attempt is resumed with an HTTP ``Range`` request; an answer that does not
continue it (a 200, or a 206 starting elsewhere) restarts the file.  A caller
holding a copy passes its :class:`Validators` and gets a 304 for free when the
file did not change.  Connections are kept alive (:mod:`moss.repo.connections`).

Retried (a few times, with growing pauses): timeouts, connection resets, a
body shorter than announced, a stalled transfer, and 5xx answers.  Not retried:
4xx answers (a 404 will still be a 404) and a complete file with the wrong digest.

A server is not trusted to stop: moss never writes more than the size the index
declares for a package (or :data:`MAX_INDEX_BYTES` for an index), and a transfer
that moves less than :data:`STALL_BYTES` in :data:`STALL_SECONDS` is cut, so a
server that sends forever cannot fill the disk and one that trickles cannot hold
moss forever.

A Ctrl-C stops a download within a second: the transfers run on worker threads
(:mod:`moss.repo.cache`), which the signal never reaches, so the main thread sets
a ``cancelled`` event that every transfer checks between blocks (a block is
whatever has arrived, at most :data:`CHUNK` bytes) and between retries.  The
``.part`` stays, to be resumed by the next attempt; it never becomes ``DEST``.
"""

from __future__ import annotations

import http.client
import os
import re
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moss import __version__
from moss.core.errors import MossError
from moss.core.hashing import sha256_file
from moss.repo import connections

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


@dataclass(frozen=True)
class Validators:
    """What the server said identifies the copy we have (``ETag``, ``Last-Modified``),
    sent back as ``If-None-Match``/``If-Modified-Since`` so an unchanged file costs a 304."""

    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers

    def __bool__(self) -> bool:
        return bool(self.etag or self.last_modified)


@dataclass(frozen=True)
class Fetched:
    """The outcome of :func:`download`: whether ``dest`` was (re)written, and the
    validators of what the server sent (empty for ``file://`` and silent servers)."""

    modified: bool
    validators: Validators


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


class _Tally:
    """The bytes of one file reported to ``on_bytes`` so far, so that progress follows the
    ``.part`` on disk and never goes below zero.

    A ``.part`` left by an earlier run counts once it is resumed; when a server ignores
    ``Range`` and sends the file from its start, only what this run counted is taken back
    (once, a tester saw ``-8060928 B`` and ``-1:… left``).
    """

    def __init__(self, on_bytes: OnBytes) -> None:
        self.on_bytes = on_bytes
        self.counted = 0

    def __call__(self, n: int) -> None:
        self.counted += n
        self.on_bytes(n)

    def at(self, size: int) -> None:
        """The file now holds ``size`` bytes."""
        if size != self.counted:
            self(size - self.counted)


class _Retryable(Exception):
    """A failure another attempt may fix; carries the user-facing reason."""


class Cancelled(Exception):
    """The transfer stopped because ``cancelled`` was set (the user pressed Ctrl-C)."""


def _check(cancelled: threading.Event | None) -> None:
    if cancelled is not None and cancelled.is_set():
        raise Cancelled


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


def _too_long(url: str, limit: int) -> MossError:
    return MossError(f"{url}: expected {limit} bytes, but the server sends more; refused")


def _copy_file_url(url: str, part: Path, on_bytes: _Tally, limit: int,
                   cancelled: threading.Event | None) -> None:
    source = Path(urllib.request.url2pathname(urllib.parse.urlparse(url).path))
    try:
        with source.open("rb") as src, part.open("wb") as out:
            written = 0
            on_bytes.at(0)
            for block in iter(lambda: src.read(CHUNK), b""):
                _check(cancelled)
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
    url: str, part: Path, options: FetchOptions, on_bytes: _Tally, limit: int,
    validators: Validators | None = None, cancelled: threading.Event | None = None,
) -> Validators | None:
    """One request; appends to ``part`` when the server honours our Range.

    Returns the server's validators for what was written, or None when it answered
    304 to ``validators`` (nothing written).  A 206 whose Content-Range does not
    start where ``part`` ends is discarded and the file fetched whole again.
    Never lets ``part`` grow past ``limit`` bytes, whatever the server sends or
    announces, and cuts a stalled transfer (``read1`` returns what has arrived,
    so a trickle is seen as one).
    """
    have = part.stat().st_size if part.exists() else 0
    with _open(url, part, have, options, None if have else validators) as reply:
        response = reply.response
        if response.status == 304:
            return None
        resuming = response.status == 206
        if resuming and not _range_starts_at(response.headers.get("Content-Range"), have):
            reply.discard()
            part.unlink()
            on_bytes.at(0)
            return _http_attempt(url, part, options, on_bytes, limit, validators, cancelled)
        expected = response.headers.get("Content-Length")
        start = have if resuming else 0
        on_bytes.at(start)
        if expected is not None and expected.isdigit() and start + int(expected) > limit:
            raise _too_long(url, limit)
        received = _receive(url, response, part, start, limit, options, on_bytes, cancelled)
        found = Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
        # http.client does not report a body shorter than Content-Length on read(n).
        if expected is not None and expected.isdigit() and received < int(expected):
            raise _Retryable(f"transfer cut short after {received} of {expected} bytes")
        reply.done()
    return found


def _range_starts_at(content_range: str | None, have: int) -> bool:
    """Whether a 206's ``Content-Range: bytes FIRST-LAST/TOTAL`` continues at ``have``."""
    match = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+|\*)", (content_range or "").strip())
    return match is not None and int(match.group(1)) == have <= int(match.group(2))


def _open(url: str, part: Path, have: int, options: FetchOptions,
          validators: Validators | None) -> connections.Reply:
    """The response to a GET (from byte ``have`` on); failures sorted into retry or not."""
    headers = {"User-Agent": f"moss/{__version__}"}
    if have:
        headers["Range"] = f"bytes={have}-"
    if validators is not None:
        headers.update(validators.request_headers())
    try:
        reply = connections.get(url, headers, options.timeout)
    except http.client.InvalidURL as exc:
        raise MossError(f"{url}: {exc}") from None
    except (TimeoutError, ConnectionError, http.client.HTTPException) as exc:
        raise _Retryable(f"connection failed: {exc or type(exc).__name__}") from None
    except OSError as exc:
        raise MossError(f"{url}: {exc.strerror or exc}") from None
    status = reply.response.status
    if status in (200, 206) or (status == 304 and validators is not None):
        return reply
    reason = reply.response.reason
    reply.discard()
    if status == 416 and have:
        # Our partial file is no prefix of the current one: start over.
        part.unlink()
        raise _Retryable("the server refused to resume")
    if status >= 500:
        raise _Retryable(f"server error {status} {reason}")
    raise MossError(f"{url}: {status} {reason}")


def _receive(url: str, response: http.client.HTTPResponse, part: Path, start: int,
             limit: int, options: FetchOptions, on_bytes: OnBytes,
             cancelled: threading.Event | None) -> int:
    """Write the body to ``part`` after its first ``start`` bytes (0: from scratch),
    never past ``limit`` bytes in all; how many bytes were received."""
    received = 0
    stall = _Stall(options.stall_seconds)
    try:
        with part.open("ab" if start else "wb") as out:
            while block := response.read1(CHUNK):
                _check(cancelled)
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
    validators: Validators | None = None,
    cancelled: threading.Event | None = None,
) -> Fetched:
    """Fetch ``url`` into ``dest`` (via ``dest.part``); checks ``size`` and ``sha256`` if given.

    With ``validators`` (of a copy the caller keeps elsewhere) the request is
    conditional: a 304 writes nothing and returns ``modified=False``.
    Without a ``size`` (an index), at most :data:`MAX_INDEX_BYTES` are accepted.
    Raises MossError naming the URL on failure; ``dest`` is then untouched.  Once
    ``cancelled`` is set, raises :class:`Cancelled` at the next block or pause.
    """
    options = options or FetchOptions()
    limit = size if size is not None else MAX_INDEX_BYTES
    report = _Tally(on_bytes or (lambda _n: None))
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    try:
        found = _transfer(url, part, options, report, limit, validators or None, cancelled)
    except _GaveUp as exc:
        # The network's failure: the .part stays, and the next attempt resumes it.
        raise MossError(str(exc)) from None
    except (MossError, OSError):
        # Anything else (a full disk, a refused or oversized answer) takes back
        # what it wrote: a kept .part would only hold the disk and block resumes.
        part.unlink(missing_ok=True)
        raise
    if found is None:
        return Fetched(False, validators or Validators())
    _verify_and_commit(url, part, dest, sha256, size)
    return Fetched(True, found)


class _GaveUp(Exception):
    """Every attempt failed the way a network fails."""


def _transfer(url: str, part: Path, options: FetchOptions, report: _Tally, limit: int,
              validators: Validators | None,
              cancelled: threading.Event | None) -> Validators | None:
    """Validators of what ``part`` now holds, or None for a 304 (nothing written)."""
    if url.startswith("file://"):
        _copy_file_url(url, part, report, limit, cancelled)
        return Validators()
    elif url.startswith(("http://", "https://")):
        attempt = 0
        while True:
            try:
                return _http_attempt(url, part, options, report, limit, validators,
                                     cancelled)
            except _Retryable as exc:
                attempt += 1
                if attempt > options.retries:
                    raise _GaveUp(f"{url}: {exc} (gave up after {attempt} attempts)") from None
                pause = options.backoff * 2 ** (attempt - 1)
                if cancelled is None:
                    time.sleep(pause)
                elif cancelled.wait(pause):
                    raise Cancelled from None
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
