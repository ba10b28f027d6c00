"""The content-addressed asset store under ``.moss/assets/v2``.

Every regular file of every package lives here once, named by its XXH3-128.
Blobs are first written into ``incoming/`` while both digests are computed and
only move into the store once every package has verified, so a bad package
leaves the store as it was (:mod:`moss.store.batch`).

An interrupted run (Ctrl-C, a kill, a power cut) can leave *orphans*: blobs in the
store that no record names.  Their bytes were durable before they got their names,
so they harm nothing (a later package carrying the same content checks one against
its name and records it) but take space: ``state verify`` reports them and ``state
prune`` / ``cache prune`` delete them.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path

import blake3
import xxhash

from moss.core import fs
from moss.core.errors import MossError
from moss.core.hashing import CHUNK, blake3_file
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.db.layout import AssetRow, LayoutDB
from moss.stone import digest_hex

#: Blobs with names this long or longer live three folders down (real moss's layout).
STORE_FOLDERS_FROM = 10


def asset_location(assets: str, digest: int) -> str:
    """The blob's path as a string: the blit's hot loop cannot afford pathlib."""
    h = digest_hex(digest)
    if len(h) < STORE_FOLDERS_FROM:
        return f"{assets}/{h}"
    return f"{assets}/{h[0:2]}/{h[2:4]}/{h[4:6]}/{h}"


def asset_path(root: Root, digest: int) -> Path:
    return Path(asset_location(str(root.assets), digest))


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
            row = _unrecorded(root, layout, digest, path, digest in brought or restorable)
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
    _record_checked(root, layout, seen, unrecorded)


def _record_checked(root: Root, layout: LayoutDB, seen: list[tuple[str, int, int]],
                    unrecorded: list[AssetRow]) -> None:
    if seen:
        layout.refresh_assets(seen)
    if unrecorded:
        # Intact, but its name perhaps only in the page cache (a run killed between
        # placing its blobs and its second syncfs): durable before it is recorded.
        fs.sync_interruptibly(root.assets)
        layout.add_assets(unrecorded)


def _unrecorded(root: Root, layout: LayoutDB, digest: int, path: str,
                coming: bool) -> AssetRow | None:
    """The record to make of a blob no record vouches for; None when it is not stored
    and ``coming`` (brought, or to be restored), or is a damaged orphan the
    transaction replaces; refused when missing or damaged.

    A blob gets its store name only once its bytes are durable
    (:mod:`moss.store.batch`), so one whose content is not its name was damaged
    after it was stored, never torn by a power cut.  If a package's layout names
    it, trees may link those bytes: refused, as a recorded blob is, so the user
    learns of it and repairs.  An orphan no layout names (left by an interrupted
    run) harms no state: a transaction bringing it writes it afresh.
    """
    if not os.path.lexists(path):
        if coming:
            return None  # not in the store yet: this transaction brings it
        raise _damaged(path, "missing from the store")
    row = vouch_for(root, digest)
    if row is None:
        if coming and stat.S_ISREG(os.lstat(path).st_mode) and not layout.names_blob(digest):
            return None
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


def refuse_poison(key: str, recorded: str, actual: str) -> None:
    """A blob with a stored blob's XXH3-128 but another BLAKE3 is an attack or damage."""
    if recorded != actual:
        raise MossError(
            f"store poisoning refused: blob {key} has the XXH3-128 of a stored asset "
            f"but a different BLAKE3 ({actual} != {recorded})"
        )


def stored_regular(path: str) -> bool:
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
