"""The download cache: ``.stone`` files by sha256, fetched in parallel and verified.

Layout (shared with real moss): ``CACHE/downloads/v1/<sha[0:5]>/<sha[-5:]>/<sha>``.
A file is only ever placed there by renaming a verified ``.part``, so anything
present is trusted after a re-hash; a damaged one is fetched again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError
from moss.core.hashing import sha256_file
from moss.core.progress import QUIET, Progress
from moss.core.root import Root, cached_file
from moss.repo.fetch import Cancelled, FetchOptions, download

DEFAULT_JOBS = 4
# After a Ctrl-C, how long the transfers get to notice and close their files.  One
# blocked on a silent server would wait for its socket timeout: it is left behind
# (a daemon thread; its .part stays a .part) and moss exits.
STOP_SECONDS = 0.5


@dataclass(frozen=True)
class Download:
    """What to fetch: a URL and the digest (and size) the index promised for it."""

    name: str
    url: str
    sha256: str
    size: int | None = None
    # The same file on the repository's other mirrors, tried in order when ``url`` fails.
    alternates: tuple[str, ...] = ()


def cache_root(root: Path, cache: Path | None = None) -> Path:
    """``--cache`` when given, else the root's own cache (:attr:`Root.cache`)."""
    return cache if cache is not None else Root(root).cache


def cached_path(cache: Path, sha256: str) -> Path:
    """Where a package with this sha256 lies in ``cache``; refuses a malformed digest."""
    sha = sha256.lower()
    if len(sha) != 64 or any(c not in "0123456789abcdef" for c in sha):
        raise MossError(f"invalid sha256 {sha256!r} in the repository index")
    return cached_file(cache, sha)


def _is_cached(path: Path, sha256: str) -> bool:
    return path.is_file() and sha256_file(path) == sha256.lower()


def fetch_packages(
    downloads: Sequence[Download],
    cache: Path,
    progress: Progress = QUIET,
    *,
    jobs: int = DEFAULT_JOBS,
    options: FetchOptions | None = None,
) -> dict[str, Path]:
    """Make every download present in the cache; returns sha256 -> cached path.

    Runs up to ``jobs`` transfers at once.  The first failure is raised (as a
    MossError naming the URL) after the other transfers finish, so no thread
    is left writing; completed files stay cached for the next attempt.  A
    Ctrl-C stops them all within a second (:data:`STOP_SECONDS`).
    """
    result = {item.sha256.lower(): cached_path(cache, item.sha256) for item in downloads}
    wanted = missing_from_cache(downloads, cache)
    if wanted:
        fetch_in_parallel(wanted, cache, progress, jobs, options)
    return result


def missing_from_cache(downloads: Sequence[Download], cache: Path) -> list[Download]:
    """The downloads not (intact) in the cache yet, each digest once."""
    wanted: list[Download] = []
    for item in downloads:
        path = cached_path(cache, item.sha256)
        if not _is_cached(path, item.sha256) and all(w.sha256 != item.sha256 for w in wanted):
            wanted.append(item)
    return wanted


def fetch_from_mirrors(item: Download, dest: Path, options: FetchOptions | None,
                       on_bytes: Callable[[int], None],
                       cancelled: threading.Event | None = None) -> None:
    """``item`` from its URL, else from each alternate in turn (the sha256 decides what
    is accepted, so a ``.part`` one mirror left may be resumed from the next).  A
    Ctrl-C (``cancelled``) is no failure of a mirror: it stops the transfer."""
    urls = (item.url, *item.alternates)
    for number, url in enumerate(urls):
        try:
            download(url, dest, sha256=item.sha256, size=item.size, options=options,
                     on_bytes=on_bytes, cancelled=cancelled)
            return
        except MossError:
            if number == len(urls) - 1:
                raise


def fetch_in_parallel(wanted: Sequence[Download], cache: Path, progress: Progress,
                      jobs: int, options: FetchOptions | None) -> None:
    """Run the transfers on ``jobs`` threads; raise the first failure once all are done.

    Progress counts bytes when every size is known, else whole packages.
    """
    lock = threading.Lock()
    known_sizes = all(w.size is not None for w in wanted)
    total = sum(w.size or 0 for w in wanted) if known_sizes else len(wanted)

    def on_bytes(n: int) -> None:
        if known_sizes:
            with lock:
                progress.advance(n)

    def fetch_one(item: Download, cancelled: threading.Event) -> None:
        fetch_from_mirrors(item, cached_path(cache, item.sha256), options, on_bytes,
                           cancelled)
        if not known_sizes:
            with lock:
                progress.advance()

    progress.start(f"Fetching {len(wanted)} packages", total,
                   "B" if known_sizes else "packages")
    try:
        _on_threads(wanted, fetch_one, jobs)
    finally:
        progress.done()  # marks the line failed when an error is on its way


def _on_threads(items: Sequence[Download],
                fetch_one: Callable[[Download, threading.Event], None], jobs: int) -> None:
    """``fetch_one`` for each item on up to ``jobs`` threads; the first failure, raised here.

    Daemon threads, not an executor: an executor's threads are joined at exit, so a
    Ctrl-C waited for every transfer to end (23 s in a tester's trial).  Here the
    interrupt sets ``cancelled``, which each transfer checks between blocks.
    """
    lock = threading.Lock()
    queue = list(reversed(items))
    errors: list[BaseException] = []
    cancelled = threading.Event()

    def worker() -> None:
        while not cancelled.is_set():
            with lock:
                if not queue:
                    return
                item = queue.pop()
            try:
                fetch_one(item, cancelled)
            except Cancelled:
                return
            except BaseException as exc:  # raised in the main thread below
                with lock:
                    errors.append(exc)

    threads = [threading.Thread(target=worker, name=f"fetch-{i}", daemon=True)
               for i in range(min(max(1, jobs), len(items)))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()  # a Ctrl-C interrupts this wait, not the transfers
    except KeyboardInterrupt:
        cancelled.set()
        deadline = time.monotonic() + STOP_SECONDS
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        raise
    if errors:
        raise errors[0]
