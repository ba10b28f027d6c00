"""Blobs back into the store from cached ``.stone`` files.

Two callers need it: ``moss state verify --repair`` (a damaged blob) and a
transaction that turns a subscription back on after ``state prune`` let the
culled blobs go (:mod:`moss.states.culled`).  Each package is read once, the
wanted blobs re-extracted (and checked on the way, as at install), the others
skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from moss.core.errors import MossError
from moss.core.root import Root
from moss.db.databases import Databases
from moss.stone import FileKind, StoneError, open_stone
from moss.store.assets import asset_path
from moss.store.batch import batch


def restore_blobs(root: Root, dbs: Databases, wanted: set[int],
                  sources: Iterable[tuple[str, Path]],
                  damaged: Iterable[str] = ()) -> list[tuple[str, Path]]:
    """Re-extract the blobs ``wanted`` from ``sources`` (package id, ``.stone`` path).

    ``damaged`` are hex digests whose recorded BLAKE3 is not to be trusted.
    Returns (hex digest, source) of each blob restored; ``wanted`` keeps the rest.
    """
    attributes = dbs.layout.asset_attributes()
    bad = set(damaged)
    known = {d: b3 for d, b3 in dbs.layout.all_assets().items() if d not in bad}
    restored: list[tuple[str, Path]] = []
    for package, path in sources:
        if not wanted or not path.exists():
            continue
        try:
            with open_stone(path) as reader, batch(root) as scratch:
                for entry, chunks in reader.iter_content():
                    if entry.digest in wanted:
                        # The mode it was stored with, which the blit relies on.
                        recorded = attributes.get(entry.digest)
                        mode = recorded[0] if recorded else _mode_for(dbs, package, entry.digest)
                        asset_path(root, entry.digest).unlink(missing_ok=True)
                        scratch.add(entry.digest, chunks, mode, known)
                    else:
                        for _ in chunks:  # still read: the reader checks the digest
                            pass
                rows = scratch.commit()
        except StoneError as exc:
            raise MossError(f"cached package {path} is damaged: {exc}") from exc
        dbs.layout.add_assets(rows)  # a blob that had left the store has no row
        for row in rows:
            wanted.discard(int(row[0], 16))
            restored.append((row[0], path))
    return restored


def _mode_for(dbs: Databases, package: str, digest: int) -> int:
    for entry in dbs.layout.entries(package):
        if entry.file_kind == FileKind.REGULAR and entry.digest == digest:
            return entry.mode
    return 0o644



