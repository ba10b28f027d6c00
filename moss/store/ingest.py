"""Bringing a transaction's new packages into the root: store, cache, databases.

The content payload of each package is streamed once: every unique file goes
through XXH3-128 (checked by the reader) and BLAKE3 (recorded or compared) into
one scratch batch for the whole transaction, several packages at a time (zstd,
the hashes and the writes release the GIL).  Only when every package has
verified are the blobs made durable and given their store names, and a second
``syncfs`` then makes the names and the cached packages durable
(:mod:`moss.store.batch`).

Database rows come last, one commit per database for the whole transaction, so a
row always has its blobs: the blobs' extras (BLAKE3, mode, ...) first, then real
moss's ``layout`` rows, then its ``meta`` rows, which mark the packages unpacked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

from moss.core.errors import MossError
from moss.core.faults import checkpoint
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.db.databases import Databases
from moss.stone import EMPTY_DIGEST, FileKind, StoneError, digest_hex, open_stone
from moss.stone.delta import MAX_PATCH_INPUT, rebuild
from moss.store.assets import asset_path
from moss.store.batch import Batch, batch, in_parallel, pool_size
from moss.store.incoming import IncomingPackage, copy_to_cache, keep_cached

Advance = Callable[[int], None]


def unpack_packages(
    root: Root, dbs: Databases, packages: Sequence[IncomingPackage],
    progress: Progress = QUIET, warn: Callable[[str], None] = lambda _line: None,
) -> None:
    """Store, cache and record every package not already in this root.

    A package that came as a delta is rebuilt from the store; if that fails in
    any way, ``warn`` says so in one line and the full package is fetched instead.
    """
    new = [p for p in packages if not (dbs.install.has(p.id) and dbs.layout.has(p.id))]
    if not new:
        return
    known = dbs.layout.all_assets()
    with batch(root) as scratch:
        unpacked = _unpack_all(root, scratch, new, known, progress, warn)
        parts = [part for p in unpacked
                 if p.delta is None and (part := copy_to_cache(root, p)) is not None]
        checkpoint("unpack:blobs-written")
        scratch.place()
        checkpoint("unpack:blobs-placed")
        rows = scratch.commit(also=[part.parent for part in parts])
    checkpoint("unpack:blobs-stored")
    for part in parts:
        keep_cached(part)
    _refuse_incomplete(unpacked, {*known, *(row[0] for row in rows)})
    dbs.layout.add_assets(rows)  # extras first: a row there names only a stored blob
    checkpoint("unpack:assets-recorded")
    dbs.layout.add_packages([(p.id, p.layout) for p in unpacked])
    checkpoint("unpack:layout-recorded")
    dbs.install.add_packages([(p.id, p.meta) for p in unpacked])


def _unpack_all(root: Root, scratch: Batch, packages: Sequence[IncomingPackage],
                known: dict[str, str], progress: Progress,
                warn: Callable[[str], None]) -> list[IncomingPackage]:
    """Every package's blobs into ``scratch``; the packages as unpacked (a delta that
    did not apply is its full package).  Deltas go first, one by one on this thread
    (a fallback downloads); then the full packages, on a pool when there are several.

    Counted in bytes of content, not packages: one 30 MiB package sat at "0/1
    packages" until it ended.
    """
    sizes = [_content_size(p) for p in packages]
    progress.start(f"Unpacking {len(packages)} packages" if len(packages) > 1 else "Unpacking",
                   sum(sizes), "B")
    lock = threading.Lock()

    def advance(amount: int) -> None:
        with lock:
            progress.advance(amount)

    try:
        unpacked = list(packages)
        for i, (package, size) in enumerate(zip(packages, sizes, strict=True)):
            if package.delta is not None:
                unpacked[i] = _unpack_delta_or_full(root, scratch, package, known, warn)
                advance(size)  # the delta's own bytes, as the total counted them
        full = [p for p in packages if p.delta is None]
        in_parallel(lambda p: _unpack_one(scratch, p, known, advance), full,
                    pool_size(len(full)), scratch.stop)
    finally:
        progress.done()
    return unpacked


def _refuse_incomplete(packages: Iterable[IncomingPackage], stored: set[str]) -> None:
    for package in packages:
        missing = [e for e in package.layout if e.file_kind == FileKind.REGULAR
                   and e.digest != EMPTY_DIGEST and digest_hex(e.digest) not in stored]
        if missing:
            raise MossError(f"{package.path}: content for {len(missing)} layout entries "
                            "is missing")


def _content_size(package: IncomingPackage) -> int:
    """The bytes of the package's Content payload (its files, each once), from its index."""
    try:
        with open_stone(package.path) as reader:
            return sum(entry.size for entry in reader.index())
    except StoneError as exc:
        raise MossError(f"{package.path}: {exc}") from exc


def _counted(chunks: Iterable[bytes], advance: Advance) -> Iterator[bytes]:
    for chunk in chunks:
        advance(len(chunk))
        yield chunk


def _unpack_delta_or_full(root: Root, scratch: Batch, package: IncomingPackage,
                          known: dict[str, str],
                          warn: Callable[[str], None]) -> IncomingPackage:
    try:
        _unpack_delta(root, scratch, package, known)
        return package
    except (MossError, StoneError, OSError) as exc:
        if package.fallback is None:
            raise
        warn(f"the delta for {package.meta.name} did not apply ({exc}); "
             "fetched the full package instead")
    full = package.fallback()
    if full.layout != package.layout:
        raise MossError(f"{package.meta.name}: the delta's layout is not the package's; refused")
    _unpack_one(scratch, full, known, lambda _amount: None)
    return full


def _unpack_delta(root: Root, scratch: Batch, package: IncomingPackage,
                  known: dict[str, str]) -> None:
    """Rebuild the blobs a delta carries (each checked by XXH3-128 as it is rebuilt,
    and by BLAKE3 against the store's record when the store knows it) into scratch;
    every other blob the layout names must be in the store already, recorded."""
    assert package.delta is not None
    delta = package.delta
    modes = _modes(package)
    carried = {p.digest for p in delta.patches.values()}
    with open_stone(package.path) as reader:
        carried |= {e.digest for e in reader.index()} - set(delta.patches)
    absent = [d for d in modes if d not in carried and (
        digest_hex(d) not in known or not asset_path(root, d).is_file())]
    if absent:
        raise MossError(f"{len(absent)} blobs of the base release are not in the store")

    def base_blob(digest: int) -> bytes:
        path = asset_path(root, digest)
        if digest_hex(digest) not in known or path.stat().st_size > MAX_PATCH_INPUT:
            raise MossError(f"base blob {digest_hex(digest)} is not in the store")
        return path.read_bytes()

    for digest, chunks in rebuild(package.path, delta, base_blob):
        if digest in modes:
            scratch.add(digest, chunks, modes[digest], known)
        else:
            for _ in chunks:  # still read: the reader checks the digest
                pass


def _modes(package: IncomingPackage) -> dict[int, int]:
    """The mode each blob the package's layout names is stored with (its first entry's)."""
    modes: dict[int, int] = {}
    for entry in package.layout:
        if entry.file_kind == FileKind.REGULAR and entry.digest != EMPTY_DIGEST:
            modes.setdefault(entry.digest, entry.mode)
    return modes


def _unpack_one(scratch: Batch, package: IncomingPackage, known: dict[str, str],
                advance: Advance) -> None:
    modes = _modes(package)
    try:
        with open_stone(package.path) as reader:
            for index_entry, raw in reader.iter_content():
                scratch.check_stop()
                chunks = _counted(raw, advance)
                if index_entry.digest not in modes:
                    for _ in chunks:  # still read: the reader checks the digest
                        pass
                    continue
                scratch.add(index_entry.digest, chunks, modes[index_entry.digest], known)
    except MossError as exc:
        raise MossError(f"{package.path}: {exc}") from exc
