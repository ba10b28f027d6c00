"""Bringing a transaction's new packages into the root: store, cache, databases.

The content payload of each package is streamed once: every unique file goes
through XXH3-128 (checked by the reader) and BLAKE3 (recorded or compared)
into a scratch batch, which only enters the store when the whole package has
verified.  Database rows come last, so a row always has its blobs: the blobs'
extras (BLAKE3, mode, ...) first, then real moss's ``layout`` rows, then its
``meta`` row, which is what marks the package as unpacked.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from moss.core.errors import MossError
from moss.core.faults import checkpoint
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.db.databases import Databases
from moss.stone import EMPTY_DIGEST, FileKind, StoneError, digest_hex, open_stone
from moss.stone.delta import MAX_PATCH_INPUT, rebuild
from moss.store.assets import asset_path, batch
from moss.store.incoming import IncomingPackage, cache_package


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
    # Counted in bytes of content, not packages: one 30 MiB package sat at "0/1
    # packages" until it ended.
    sizes = [_content_size(p) for p in new]
    progress.start(f"Unpacking {len(new)} packages" if len(new) > 1 else "Unpacking",
                   sum(sizes), "B")
    known = dbs.layout.all_assets()
    for package, size in zip(new, sizes, strict=True):
        if package.delta is not None:
            package = _unpack_delta_or_full(root, dbs, package, known, warn)
            progress.advance(size)  # the delta's own bytes, as the total counted them
        else:
            _unpack_one(root, dbs, package, known, progress)
            cache_package(root, package)
        dbs.layout.add(package.id, package.layout)
        checkpoint("unpack:layout-recorded")
        dbs.install.add(package.id, package.meta)
    progress.done()


def _content_size(package: IncomingPackage) -> int:
    """The bytes of the package's Content payload (its files, each once), from its index."""
    try:
        with open_stone(package.path) as reader:
            return sum(entry.size for entry in reader.index())
    except StoneError as exc:
        raise MossError(f"{package.path}: {exc}") from exc


def _counted(chunks: Iterable[bytes], progress: Progress) -> Iterator[bytes]:
    for chunk in chunks:
        progress.advance(len(chunk))
        yield chunk


def _unpack_delta_or_full(root: Root, dbs: Databases, package: IncomingPackage,
                          known: dict[str, str], warn: Callable[[str], None]) -> IncomingPackage:
    try:
        _unpack_delta(root, dbs, package, known)
        return package
    except (MossError, StoneError, OSError) as exc:
        if package.fallback is None:
            raise
        warn(f"the delta for {package.meta.name} did not apply ({exc}); "
             "fetched the full package instead")
    full = package.fallback()
    if full.layout != package.layout:
        raise MossError(f"{package.meta.name}: the delta's layout is not the package's; refused")
    _unpack_one(root, dbs, full, known)
    cache_package(root, full)
    return full


def _unpack_delta(root: Root, dbs: Databases, package: IncomingPackage,
                  known: dict[str, str]) -> None:
    """Rebuild the blobs a delta carries (each checked by XXH3-128 as it is rebuilt,
    and by BLAKE3 against the store's record when the store knows it) into the store;
    every other blob the layout names must be there already."""
    assert package.delta is not None
    delta = package.delta
    modes: dict[int, int] = {}
    for entry in package.layout:
        if entry.file_kind == FileKind.REGULAR and entry.digest != EMPTY_DIGEST:
            modes.setdefault(entry.digest, entry.mode)
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

    with batch(root) as scratch:
        for digest, chunks in rebuild(package.path, delta, base_blob):
            if digest in modes:
                scratch.add(digest, chunks, modes[digest], known)
            else:
                for _ in chunks:  # still read: the reader checks the digest
                    pass
        rows = scratch.commit()
    dbs.layout.add_assets(rows)
    known.update({row[0]: row[1] for row in rows})


def _unpack_one(root: Root, dbs: Databases, package: IncomingPackage,
                known: dict[str, str], progress: Progress = QUIET) -> None:
    modes: dict[int, int] = {}
    for entry in package.layout:
        if entry.file_kind == FileKind.REGULAR:
            modes.setdefault(entry.digest, entry.mode)
    try:
        with open_stone(package.path) as reader, batch(root) as scratch:
            for index_entry, raw in reader.iter_content():
                chunks = _counted(raw, progress)
                if index_entry.digest == EMPTY_DIGEST or index_entry.digest not in modes:
                    for _ in chunks:  # still read: the reader checks the digest
                        pass
                    continue
                scratch.add(index_entry.digest, chunks, modes[index_entry.digest], known)
            rows = scratch.commit()
            checkpoint("unpack:blobs-stored")
    except MossError as exc:
        raise MossError(f"{package.path}: {exc}") from exc
    dbs.layout.add_assets(rows)  # extras first: a row there names only a stored blob
    checkpoint("unpack:assets-recorded")
    known.update({row[0]: row[1] for row in rows})
    missing = [d for d in modes if d != EMPTY_DIGEST and digest_hex(d) not in known]
    if missing:
        raise MossError(f"{package.path}: content for {len(missing)} layout entries is missing")
