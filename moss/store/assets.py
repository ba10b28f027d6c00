"""The content-addressed asset store under ``.moss/assets/v2``.

Every regular file of every package lives here once, named by its XXH3-128.
Blobs are first written into ``incoming/`` while both digests are computed and
only move into the store once the whole package has verified, so a bad package
leaves the store as it was.

An interrupted run (Ctrl-C, a kill) can leave *orphans*: blobs in the store
that no package's layout names.  They harm nothing (a later package carrying
the same content re-hashes and adopts them) but take space: ``state verify``
reports them and ``state prune`` / ``cache prune`` delete them.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import blake3
import xxhash

from moss.core import fs
from moss.core.errors import MossError
from moss.core.fs import sync_filesystem
from moss.core.hashing import CHUNK, blake3_file
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.db.layout import AssetRow, LayoutDB
from moss.stone import digest_hex


def asset_location(assets: str, digest: int) -> str:
    """The blob's path as a string: the blit's hot loop cannot afford pathlib."""
    h = digest_hex(digest)
    if len(h) < 10:
        return f"{assets}/{h}"
    return f"{assets}/{h[0:2]}/{h[2:4]}/{h[4:6]}/{h}"


def asset_path(root: Root, digest: int) -> Path:
    return Path(asset_location(str(root.assets), digest))


@dataclass
class Batch:
    """Blobs of one package (or transaction) waiting to enter the store."""

    root: Root
    directory: Path
    pending: dict[int, tuple[Path, str, int, int]] = field(default_factory=dict)
    # Blobs found in the store with no recorded BLAKE3 (an interrupted earlier run).
    unrecorded: list[AssetRow] = field(default_factory=list)
    # The store as a string, and its folders known to exist: per blob, pathlib and
    # makedirs' checks cost more than the one mkdir a new blob needs.
    assets: str = field(init=False)
    folders: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.assets = str(self.root.assets)

    def add(self, digest: int, chunks: Iterable[bytes], mode: int, known: dict[str, str]) -> None:
        """Write one blob from ``chunks``; a blob already stored is only re-hashed.

        ``known`` maps digests to the BLAKE3 recorded when they entered the store;
        a blob with a known XXH3 key and a different BLAKE3 is store poisoning.
        """
        key = digest_hex(digest)
        hasher = blake3.blake3()
        stored = asset_location(self.assets, digest)
        if digest in self.pending:
            known = {**known, key: self.pending[digest][1]}
        if digest in self.pending or _stored_regular(stored):
            size = 0
            for chunk in chunks:
                hasher.update(chunk)
                size += len(chunk)
            recorded = known.get(key)
            if recorded is None:
                recorded = blake3_file(Path(stored))
                st = os.stat(stored)
                self.unrecorded.append((key, recorded, size, stat.S_IMODE(st.st_mode),
                                        st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino))
            _refuse_poison(key, recorded, hasher.hexdigest())
            return
        # Not in the store, even if a row names it (a row left by an older moss
        # killed while collecting garbage): written afresh, so a reinstall heals.
        tmp = self.directory / key
        size = 0
        with open(tmp, "wb") as out:
            for chunk in chunks:
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
        if key in known:
            _refuse_poison(key, known[key], hasher.hexdigest())
        os.chmod(tmp, mode & 0o7777)
        self.pending[digest] = (tmp, hasher.hexdigest(), size, mode & 0o7777)

    def commit(self) -> list[AssetRow]:
        """Move every verified blob into the store; returns its rows for the database.

        The blobs' bytes are made durable before they get their store names, and
        the names before the caller records the rows: one ``syncfs`` each time,
        rather than an fsync per blob (half of an install's time when it was).
        """
        rows = list(self.unrecorded)
        if self.pending:
            sync_interruptibly(self.directory)
        uid, gid = os.geteuid(), os.getegid()
        for digest, (tmp, b3, size, mode) in self.pending.items():
            dest = asset_location(self.assets, digest)
            _make_folder(os.path.dirname(dest), self.folders)
            os.replace(tmp, dest)
            st = os.stat(dest)
            rows.append((digest_hex(digest), b3, size, mode, uid, gid, st.st_mtime_ns,
                         st.st_ino))
        if self.pending:
            sync_interruptibly(self.root.assets)
        self.pending.clear()
        self.unrecorded.clear()
        return rows


def _make_folder(folder: str, known: set[str]) -> None:
    """``os.makedirs(folder, exist_ok=True)`` in one ``mkdir`` when the parent exists.

    A new blob mostly lands in a new ``h[4:6]`` folder (the store's three levels of
    two hex digits, as real moss lays them out), so this runs once per blob.
    """
    if folder in known:
        return
    try:
        os.mkdir(folder)
    except FileExistsError:
        pass
    except FileNotFoundError:
        _make_folder(os.path.dirname(folder), known)
        with contextlib.suppress(FileExistsError):
            os.mkdir(folder)
    known.add(folder)


def _refuse_poison(key: str, recorded: str, actual: str) -> None:
    if recorded != actual:
        raise MossError(
            f"store poisoning refused: blob {key} has the XXH3-128 of a stored asset "
            f"but a different BLAKE3 ({actual} != {recorded})"
        )


def sync_interruptibly(path: Path) -> None:
    """syncfs(2) in a helper thread, so Ctrl-C is not held until the flush ends.

    A syncfs of a large package's blobs takes seconds and Python only runs a
    signal handler between C calls; waiting on an event instead lets the
    KeyboardInterrupt through at once (the flush goes on in the kernel).
    """
    failure: list[OSError] = []
    finished = threading.Event()

    def flush() -> None:
        try:
            sync_filesystem(path)
        except OSError as exc:
            failure.append(exc)
        finished.set()

    threading.Thread(target=flush, name="syncfs", daemon=True).start()
    while not finished.wait(0.05):
        pass
    if failure:
        raise failure[0]


@contextlib.contextmanager
def batch(root: Root) -> Iterator[Batch]:
    """A scratch batch, cleaned up unless interrupted; ``commit`` keeps its blobs.

    On Ctrl-C the scratch files (tens of thousands for a large package) are
    left for the next run's recovery, which empties ``incoming/``: deleting
    them here would hold the user's interrupt for seconds.
    """
    root.incoming.mkdir(parents=True, exist_ok=True)
    directory = Path(tempfile.mkdtemp(prefix="batch-", dir=root.incoming))
    try:
        yield Batch(root, directory)
    except KeyboardInterrupt:
        raise
    except BaseException:
        fs.remove_tree(directory, ignore_errors=True)
        fs.remove_empty_dir(root.incoming)
        raise
    fs.remove_tree(directory, ignore_errors=True)
    # An empty incoming/ left behind read as "unfinished store files" to the next run.
    fs.remove_empty_dir(root.incoming)


def stored_digests(root: Root) -> Iterator[tuple[str, Path]]:
    """Every blob in the store, as (hex name, path)."""
    for dirpath, _dirs, files in fs.walk(root.assets):
        for name in files:
            yield name, Path(dirpath) / name


def orphaned_blobs(root: Root, referenced: set[str]) -> list[Path]:
    """Blobs in the store whose hex name is not in ``referenced``."""
    return [path for name, path in stored_digests(root) if name not in referenced]


def remove_unreferenced(root: Root, referenced: set[str], progress: Progress = QUIET) -> int:
    """Delete blobs no layout refers to; returns how many were removed.

    The caller has already dropped their asset rows: a kill here leaves orphans.
    """
    doomed = orphaned_blobs(root, referenced)
    progress.start("Removing unused blobs", len(doomed), "files")
    try:
        for path in doomed:
            path.unlink(missing_ok=True)
            progress.advance()
    finally:
        progress.done()
    fs.remove_tree(root.incoming, ignore_errors=True)
    return len(doomed)


def check_blobs(root: Root, layout: LayoutDB, digests: Iterable[int],
                brought: Collection[int] = (), restorable: bool = False) -> None:
    """Refuse to build a state on a damaged blob: a new tree would link the bad bytes.

    Every blob is stat'ed and its size compared with the recorded one; one whose
    mtime or inode changed since it was recorded (written in place, through a
    hard link in some ``/usr``, or replaced), or recorded before mtimes were, is
    re-hashed with BLAKE3.  A missing record never switches the guard off (a root
    real moss built, or an emptied ``extras``): such a blob is re-hashed against
    its name (:func:`vouch_for`), then recorded, so it is checked from then on.
    A blob neither stored nor ``brought`` by the packages coming in is missing,
    unless it has no record either and the caller puts such blobs back from the
    cached packages (``restorable``: a transaction, after ``state prune`` let blobs
    only culled paths used go, :func:`moss.states.culled.restore_missing`).
    """
    records = layout.asset_records()
    assets = str(root.assets)
    seen: list[tuple[str, int, int]] = []
    unrecorded: list[AssetRow] = []
    for digest in set(digests):
        key = digest_hex(digest)
        record = records.get(key)
        path = asset_location(assets, digest)  # a str: this loop runs once per blob
        if record is None:
            row = _unrecorded(root, digest, path, digest in brought or restorable)
            if row is not None:
                unrecorded.append(row)
            continue
        recorded_b3, size, mtime, inode = record
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            if digest in brought:
                continue  # lost, and this transaction brings it back
            raise _damaged(path, "missing from the store") from None
        if not stat.S_ISREG(st.st_mode):
            raise _damaged(path, "not a regular file")
        if st.st_size != size:
            raise _damaged(path, f"{st.st_size} bytes, {size} when stored")
        if st.st_mtime_ns == mtime and st.st_ino == inode:
            continue
        if blake3_file(Path(path)) != recorded_b3:
            raise _damaged(path, "its content changed since it was stored")
        seen.append((key, st.st_mtime_ns, st.st_ino))
    if seen:
        layout.refresh_assets(seen)
    if unrecorded:
        layout.add_assets(unrecorded)


def _unrecorded(root: Root, digest: int, path: str, coming: bool) -> AssetRow | None:
    """The record to make of a blob no record vouches for; None when it is not stored
    and ``coming`` (brought, or to be restored); refused when missing or damaged."""
    if not os.path.lexists(path):
        if coming:
            return None  # not in the store yet: this transaction brings it
        raise _damaged(path, "missing from the store")
    row = vouch_for(root, digest)
    if row is None:
        raise _damaged(path, "its content does not match its name")
    return row


def vouch_for(root: Root, digest: int) -> AssetRow | None:
    """The record of a stored blob no record vouches for, if its content is its name.

    The blob is read once for both digests: its XXH3-128 must be the name it is
    stored under, and its BLAKE3 becomes the record later checks compare with.
    None when the content does not match (or the blob is no regular file).
    """
    path = asset_path(root, digest)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return None
    with open(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            return None
        xxh, b3 = xxhash.xxh3_128(), blake3.blake3()
        while chunk := f.read(CHUNK):
            xxh.update(chunk)
            b3.update(chunk)
    if xxh.intdigest() != digest:
        return None
    return (digest_hex(digest), b3.hexdigest(), st.st_size, stat.S_IMODE(st.st_mode),
            st.st_uid, st.st_gid, st.st_mtime_ns, st.st_ino)


def _stored_regular(path: str) -> bool:
    """Whether a blob is in the store; anything but a regular file in its place (a
    link a new tree would hard-link, a folder) is damage, never content."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(mode):
        raise _damaged(path, "not a regular file")
    return True


def is_regular_blob(path: Path) -> bool:
    """A blob that is a regular file, not a link to one (``state verify``)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _damaged(path: str, what: str) -> MossError:
    return MossError(
        f"store blob {path} is damaged ({what}); refusing to build a state on it: "
        "`moss state verify --repair` restores it from the cached packages")
