"""Bringing a transaction's new packages into the root: store, cache, databases.

The content payload of each package is streamed once: every unique file goes
through XXH3-128 (checked by the reader) and BLAKE3 (recorded or compared)
into a scratch batch, which only enters the store when the whole package has
verified.  Database rows come last, so a row always has its blobs: the blobs'
extras (BLAKE3, mode, ...) first, then real moss's ``layout`` rows, then its
``meta`` row, which is what marks the package as unpacked.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from moss.core.errors import MossError
from moss.core.faults import checkpoint
from moss.core.progress import QUIET, Progress
from moss.core.root import Root
from moss.db.databases import Databases
from moss.stone import EMPTY_DIGEST, FileKind, StoneError, digest_hex, open_stone
from moss.store.assets import batch
from moss.store.incoming import IncomingPackage, cache_package


def unpack_packages(
    root: Root, dbs: Databases, packages: Sequence[IncomingPackage],
    progress: Progress = QUIET,
) -> None:
    """Store, cache and record every package not already in this root."""
    new = [p for p in packages if not (dbs.install.has(p.id) and dbs.layout.has(p.id))]
    if not new:
        return
    # Counted in bytes of content, not packages: one 30 MiB package sat at "0/1
    # packages" until it ended.
    progress.start(f"Unpacking {len(new)} packages" if len(new) > 1 else "Unpacking",
                   sum(_content_size(p) for p in new), "B")
    known = dbs.layout.all_assets()
    for package in new:
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
