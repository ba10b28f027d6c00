"""Making delta stones (:mod:`moss.stone.delta`) for ``moss index``.

For a package and an older release of it, the delta carries the blobs the older
release lacks; each travels whole or as a zstd patch against the blob of the
same path in the older layout, whichever is smaller.  The index lists deltas
in ``stone.index.deltas`` (JSON) beside ``stone.index``: real moss reads only
``stone.index``, which stays a plain stone of Meta payloads.
"""

from __future__ import annotations

import os
from pathlib import Path

import zstandard

from moss.core.fs import atomic_write
from moss.core.hashing import sha256_file
from moss.stone import EMPTY_DIGEST, FileKind, PackageMeta, open_stone, xxh3_128
from moss.stone.delta import (
    DELTAS_NAME,
    MAX_PATCH_INPUT,
    DeltaEntry,
    Patch,
    encode_deltas,
    make_patch,
    write_delta,
)

DELTA_DIR = "deltas"
# Deltas from the newest three older releases: a machine that updates weekly from a
# repository releasing a package every few days still finds one, while the folder
# holds three small files per package, not one per release ever made.  A machine
# further behind fetches the whole package, which is what a chain of deltas would
# cost it anyway.
DELTA_BASES = 3
PATCH_LEVEL = 19


def _blobs(path: Path, wanted: set[int]) -> dict[int, bytes]:
    """The content of the ``wanted`` blobs of a package (each checked by the reader)."""
    found: dict[int, bytes] = {}
    with open_stone(path) as reader:
        for entry, chunks in reader.iter_content():
            data = b"".join(chunks)
            if entry.digest in wanted:
                found[entry.digest] = data
    return found


def make_delta(new: Path, new_id: str, base: Path, base_id: str, out: Path,
               level: int = 3) -> Path:
    """Write the delta that rebuilds package ``new`` from ``base``'s blobs."""
    with open_stone(new) as reader:
        meta, layout = reader.package_meta(), reader.layout()
    with open_stone(base) as reader:
        base_layout = reader.layout()
    files = [e for e in layout if e.file_kind is FileKind.REGULAR]
    base_by_path = {e.target: e.digest for e in base_layout if e.file_kind is FileKind.REGULAR}
    needed = {e.digest for e in files} - set(base_by_path.values()) - {EMPTY_DIGEST}
    bases = {e.digest: base_by_path[e.target] for e in files
             if e.digest in needed and e.target in base_by_path}
    new_blobs = _blobs(new, needed)
    old_blobs = _blobs(base, set(bases.values()))
    carried: dict[int, bytes] = {}
    patches: list[Patch] = []
    whole = zstandard.ZstdCompressor(level=PATCH_LEVEL)
    for digest in sorted(needed):
        data = new_blobs[digest]
        old = old_blobs.get(bases.get(digest, -1))
        if old is not None and max(len(old), len(data)) <= MAX_PATCH_INPUT:
            patch = make_patch(old, data, PATCH_LEVEL)
            if len(patch) < len(whole.compress(data)):
                stored = xxh3_128(patch)
                patches.append(Patch(stored, digest, bases[digest], len(data)))
                carried[stored] = patch
                continue
        carried[digest] = data
    write_delta(out, meta, layout, base_id, new_id, carried, patches, level)
    return out


def write_deltas(output: Path, chosen: dict[str, PackageMeta],
                 older: dict[str, list[tuple[PackageMeta, Path]]],
                 paths: dict[str, Path], level: int = 3) -> Path:
    """Deltas to each chosen package from its newest :data:`DELTA_BASES` older releases,
    made once (their names hold both ids), and the list beside the index."""
    entries: list[DeltaEntry] = []
    folder = output / DELTA_DIR
    for name in sorted(chosen):
        target = chosen[name]
        assert target.hash is not None
        bases = sorted(older.get(name, []), key=lambda item: -item[0].release)[:DELTA_BASES]
        for base, base_path in bases:
            assert base.hash is not None
            out = folder / f"{name}-{base.release}-{target.release}-{base.hash[:12]}-" \
                           f"{target.hash[:12]}.delta"
            if not out.is_file():
                folder.mkdir(parents=True, exist_ok=True)
                make_delta(paths[name], target.hash, base_path, base.hash, out, level)
            entries.append(DeltaEntry(name, target.hash, base.hash,
                                      Path(os.path.relpath(out, output)).as_posix(),
                                      sha256_file(out), out.stat().st_size))
    listing = output / DELTAS_NAME
    if entries:
        atomic_write(listing, encode_deltas(entries))
    else:
        listing.unlink(missing_ok=True)
    return listing
