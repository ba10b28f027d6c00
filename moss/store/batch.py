"""A transaction's new blobs, on their way into the store.

A blob gets its store name only once its bytes are durable, and is recorded only
once its name is too; a transaction pays for that with two ``syncfs`` calls, not
two per package as it once did (an install of 200 packages spent a third of its
time in those flushes and the database commits after each):

1. :meth:`Batch.add`, from any number of threads: each new blob is written once
   into the batch's scratch folder (``incoming/batch-*``) while its BLAKE3 is
   computed; the reader checks its XXH3-128 on the same pass.  A blob two packages
   carry is written by the first, and the other's BLAKE3 compared with it.
2. :meth:`Batch.place`, once every package has verified: one ``syncfs`` makes the
   scratch bytes durable, then the blobs take their store names (``mkdir`` +
   ``rename``) on a pool of threads, each on its own top-level folders.  A bad
   package therefore leaves the store as it was.
3. :meth:`Batch.commit`: a second ``syncfs`` makes the names durable (metadata
   only: the bytes went in step 2); only then are the rows handed back for the
   database.

A power cut before step 2's flush loses scratch files only (the next run's
recovery empties ``incoming/``); one after it may lose names, never bytes.  So a
stored blob whose content is not its name was damaged after it was stored, and
:func:`moss.store.assets.check_blobs` refuses it, with or without a record.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import blake3

from moss.core import fs
from moss.core.root import Root
from moss.db.layout import AssetRow
from moss.stone import digest_hex
from moss.store.assets import STORE_FOLDERS_FROM, asset_location, refuse_poison, stored_regular

#: More threads than this gain nothing: the store's filesystem serialises its journal.
MAX_THREADS = 4

#: Fewer blobs than this are placed on the calling thread: a pool would cost more.
_POOL_FROM = 64

_Item = TypeVar("_Item")
_Result = TypeVar("_Result")


class Stopped(Exception):
    """A worker told to stop because another failed or the user pressed Ctrl-C."""


def pool_size(work: int) -> int:
    """Threads for ``work`` independent items: one per core, at most
    :data:`MAX_THREADS`; 0 (the calling thread alone) on one core or for one item."""
    size = min(len(os.sched_getaffinity(0)), MAX_THREADS, work)
    return size if size > 1 else 0


def in_parallel(work: Callable[[_Item], _Result], items: Sequence[_Item], threads: int,
                stop: threading.Event) -> list[_Result]:
    """``work`` of each item, on ``threads`` threads (0: here, in order).

    On a failure, or Ctrl-C while waiting, ``stop`` is set so the others end at
    their next blob; the failure of the earliest item is raised once they have.
    """
    if threads < 2 or len(items) < 2:
        return [work(item) for item in items]
    with ThreadPoolExecutor(threads, thread_name_prefix="moss-store") as pool:
        futures = [pool.submit(work, item) for item in items]
        try:
            _wait_for_all_or_a_failure(futures)
        finally:  # a failure or Ctrl-C: the others stop, the pool's exit waits for them
            if not all(f.done() and not f.cancelled() and f.exception() is None
                       for f in futures):
                stop.set()
                for future in futures:
                    future.cancel()
    failures = [f.exception() for f in futures if not f.cancelled()]
    first = next((e for e in failures if e is not None and not isinstance(e, Stopped)),
                 next((e for e in failures if e is not None), None))
    if first is not None:
        raise first
    return [f.result() for f in futures]


def _wait_for_all_or_a_failure(futures: list[Future[_Result]]) -> None:
    """Polls, so a Ctrl-C reaches the calling thread at once."""
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=0.05, return_when=FIRST_EXCEPTION)
        if any(f.exception() is not None for f in done):
            return


@dataclass
class _Written:
    """A blob in the scratch folder, hashed and checked, waiting for its store name."""

    tmp: str
    blake3: str
    size: int
    mode: int
    st: os.stat_result


@dataclass
class Batch:
    """Blobs of one transaction (or package) waiting to enter the store."""

    root: Root
    directory: Path
    stop: threading.Event = field(default_factory=threading.Event)
    assets: str = field(init=False)
    # digest -> BLAKE3 of the blob this batch writes (None while it is written)
    _claims: dict[int, str | None] = field(default_factory=dict)
    _written: dict[int, _Written] = field(default_factory=dict)
    _compare: list[tuple[int, str]] = field(default_factory=list)  # other carriers'
    _rows: list[AssetRow] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.assets = str(self.root.assets)

    def add(self, digest: int, chunks: Iterable[bytes], mode: int, known: dict[str, str]) -> None:
        """Write one blob from ``chunks`` into scratch; a blob already stored is only hashed.

        ``known`` maps digests to the BLAKE3 recorded when they entered the store;
        a blob with a known XXH3 key and a different BLAKE3 is store poisoning.  A
        stored blob without a record is not trusted: it is written afresh.
        """
        key = digest_hex(digest)
        recorded = known.get(key)
        if recorded is not None and stored_regular(asset_location(self.assets, digest)):
            refuse_poison(key, recorded, self._hashed(chunks))
            return
        with self._lock:
            first = digest not in self._claims
            if first:
                self._claims[digest] = None
        if not first:
            self._compare.append((digest, self._hashed(chunks)))
            return
        try:
            written = self._write(key, chunks, mode & 0o7777)
            if recorded is not None:
                refuse_poison(key, recorded, written.blake3)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(f"{self.directory}/{key}")
            with self._lock:  # another carrier (a delta's full package) may write it
                del self._claims[digest]
            raise
        with self._lock:
            self._claims[digest] = written.blake3
            self._written[digest] = written

    def _hashed(self, chunks: Iterable[bytes]) -> str:
        hasher = blake3.blake3()
        for chunk in chunks:
            self.check_stop()
            hasher.update(chunk)
        return str(hasher.hexdigest())

    def _write(self, key: str, chunks: Iterable[bytes], mode: int) -> _Written:
        """The blob into scratch, hashed on the way; its inode and mtime are the ones
        it keeps in the store (a rename changes neither)."""
        tmp = f"{self.directory}/{key}"
        hasher = blake3.blake3()
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            for chunk in chunks:
                self.check_stop()
                hasher.update(chunk)
                _write_all(fd, chunk)
                size += len(chunk)
            os.fchmod(fd, mode)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        return _Written(tmp, hasher.hexdigest(), size, mode, st)

    def check_stop(self) -> None:
        if self.stop.is_set():
            raise Stopped

    def place(self) -> None:
        """Every blob written so far to its store name: step 2 of the module docstring."""
        for digest, actual in self._compare:
            refuse_poison(digest_hex(digest), self._claims.get(digest) or "", actual)
        self._compare.clear()
        if not self._written:
            return
        fs.sync_interruptibly(self.directory)  # the bytes, before any name
        os.makedirs(self.assets, exist_ok=True)
        with os.scandir(self.assets) as entries:
            tops = {e.name for e in entries}
        groups: dict[str, list[tuple[int, _Written]]] = {}
        for digest, written in self._written.items():
            key = digest_hex(digest)
            groups.setdefault(key[:2] if len(key) >= STORE_FOLDERS_FROM else "",
                              []).append((digest, written))
        work = list(groups.values())
        pool = pool_size(len(work)) if len(self._written) >= _POOL_FROM else 0
        for rows in in_parallel(lambda items: self._place(items, tops), work, pool, self.stop):
            self._rows.extend(rows)
        self._written.clear()

    def _place(self, items: list[tuple[int, _Written]], tops: set[str]) -> list[AssetRow]:
        """Blobs sharing one top-level folder, which no other thread touches."""
        folders = _Folders(self.assets, tops)
        rows: list[AssetRow] = []
        for digest, w in items:
            self.check_stop()
            dest = asset_location(self.assets, digest)
            folders.make(dest.rpartition("/")[0])
            os.replace(w.tmp, dest)
            rows.append((digest_hex(digest), w.blake3, w.size, w.mode, w.st.st_uid,
                         w.st.st_gid, w.st.st_mtime_ns, w.st.st_ino))
        return rows

    def commit(self, also: Iterable[Path] = ()) -> list[AssetRow]:
        """Place what is left, then one ``syncfs`` of the store's filesystem (and of
        each of ``also``'s elsewhere) makes every name durable: their rows, for the
        caller to record."""
        self.place()
        rows, self._rows = self._rows, []
        durable = [*([self.root.assets] if rows else []), *also]
        if durable:
            fs.sync_interruptibly(*durable)
        return rows


class _Folders:
    """``os.makedirs`` for the store's three levels, in as few ``mkdir`` calls as can be.

    A folder this batch made holds only what it made since, so below it nothing is
    tried that cannot be missing: a fresh store costs one ``mkdir`` per folder, where
    trying the leaf first cost three for most blobs (their middle folder was new too).
    """

    def __init__(self, assets: str, tops: set[str]) -> None:
        self.made: set[str] = {assets}  # exist
        self.fresh: set[str] = set()  # made here: empty but for what was made here
        self.assets = assets
        self.tops = tops  # the names in the store's top folder when the batch began

    def make(self, leaf: str) -> None:
        if leaf in self.made:
            return
        middle = leaf.rpartition("/")[0]
        top = middle.rpartition("/")[0]
        if middle not in self.made:
            if top not in self.made:
                self._mkdir(top, exists=top.rpartition("/")[2] in self.tops)
            if top not in self.fresh and self._mkdir(leaf, exists=False, tried=True):
                self.made.add(middle)  # the leaf is in it
                return
            self._mkdir(middle, exists=False)
        self._mkdir(leaf, exists=False)

    def _mkdir(self, folder: str, exists: bool, tried: bool = False) -> bool:
        """Make ``folder`` unless known to exist; with ``tried``, False when its parent
        is missing (it is made next) rather than an error."""
        if not exists:
            try:
                os.mkdir(folder)
                self.fresh.add(folder)
            except FileExistsError:
                pass
            except FileNotFoundError:
                if tried:
                    return False
                raise
        self.made.add(folder)
        return True


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


@contextlib.contextmanager
def batch(root: Root) -> Iterator[Batch]:
    """A scratch batch, cleaned up unless interrupted; ``commit`` keeps its blobs.

    On Ctrl-C the scratch files (tens of thousands for a large package) are
    left for the next run's recovery, which empties ``incoming/``: deleting
    them here would hold the user's interrupt for seconds.
    """
    root.incoming.mkdir(parents=True, exist_ok=True)
    scratch = Batch(root, Path(tempfile.mkdtemp(prefix="batch-", dir=root.incoming)))
    try:
        yield scratch
    except KeyboardInterrupt:
        scratch.stop.set()
        raise
    except BaseException:
        scratch.stop.set()
        fs.remove_tree(scratch.directory, ignore_errors=True)
        fs.remove_empty_dir(root.incoming)
        raise
    fs.remove_tree(scratch.directory, ignore_errors=True)
    # An empty incoming/ left behind read as "unfinished store files" to the next run.
    fs.remove_empty_dir(root.incoming)
