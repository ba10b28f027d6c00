"""Delta stones (file type 2, ``Delta``): a release rebuilt from an older one's blobs.

Real moss names the file type and has no code behind it; this is moss's layout
for it, made of the format's own payloads so ``moss inspect --check`` reads it:

- **Meta**: the new package's meta, exactly as in its ``.stone``.
- **Layout**: the new package's whole layout (a client needs every entry, not
  only the changed ones, to build a state).
- **Attributes**: ``moss.delta.base`` and ``moss.delta.target``, the sha256 of
  the older and the newer ``.stone`` (the package ids); then one
  ``moss.delta.patch`` record per patched blob: the XXH3-128 of the patch, of
  the blob it rebuilds and of the base blob it patches (16 bytes each, big-endian),
  and the rebuilt size (u64).
- **Index** and **Content**: what the delta carries, one zstd frame.  Each
  index digest is the XXH3-128 of the bytes stored (the Index keeps its meaning):
  a blob the older release lacks is stored whole, or, when smaller, as a zstd
  frame compressed with the base blob as raw-content dictionary (what
  ``zstd --patch-from`` writes).  The base blob is the file of the same path
  in the older layout.

A delta holds no blob the older release already has: the client's store has those.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import zstandard

from moss.stone import header as file_header
from moss.stone.enums import FileType, PayloadKind
from moss.stone.errors import StoneError
from moss.stone.meta import PackageMeta
from moss.stone.records import IndexEntry, LayoutEntry, encode_attribute, encode_layout_entry

DELTAS_NAME = "stone.index.deltas"
BASE_KEY = b"moss.delta.base"
TARGET_KEY = b"moss.delta.target"
PATCH_KEY = b"moss.delta.patch"
_PATCH = struct.Struct(">16s16s16sQ")
# Patching holds the base and the new blob in memory: larger files travel whole.
MAX_PATCH_INPUT = 64 << 20
WINDOW_LOG_MAX = 31


@dataclass(frozen=True)
class Patch:
    """A stored patch: applied to blob ``base`` it gives ``size`` bytes hashing to ``digest``."""

    stored: int
    digest: int
    base: int
    size: int


@dataclass
class Delta:
    """What a delta stone says, before its content is read."""

    meta: PackageMeta
    layout: list[LayoutEntry]
    base_id: str
    target_id: str
    patches: dict[int, Patch]  # by the digest of the stored patch


def make_patch(old: bytes, new: bytes, level: int) -> bytes:
    """``new`` compressed with ``old`` as its dictionary (``zstd --patch-from``)."""
    dictionary = zstandard.ZstdCompressionDict(old, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    params = zstandard.ZstdCompressionParameters.from_level(
        level, source_size=len(new), dict_size=len(old), enable_ldm=True,
        window_log=max(10, min(WINDOW_LOG_MAX, (len(old) + len(new)).bit_length())))
    return zstandard.ZstdCompressor(dict_data=dictionary, compression_params=params).compress(new)


def apply_patch(old: bytes, patch: bytes, size: int) -> bytes:
    """The blob a patch rebuilds, never more than ``size`` bytes; damage is a StoneError."""
    dictionary = zstandard.ZstdCompressionDict(old, dict_type=zstandard.DICT_TYPE_RAWCONTENT)
    try:
        out = zstandard.ZstdDecompressor(dict_data=dictionary, max_window_size=1 << WINDOW_LOG_MAX
                                         ).decompress(patch, max_output_size=size)
    except zstandard.ZstdError as exc:
        raise StoneError(f"a patch does not apply: {exc}") from None
    if len(out) != size:
        raise StoneError(f"a patch rebuilt {len(out)} bytes, not {size}")
    return out


def write_delta(out: Path, meta: PackageMeta, layout: Sequence[LayoutEntry], base_id: str,
                target_id: str, carried: dict[int, bytes], patches: Sequence[Patch],
                level: int = 3) -> None:
    """Write a delta stone; ``carried`` maps each stored digest to its bytes (a whole
    blob or a patch), ``patches`` says which of them are patches."""
    from moss.stone import writer

    attributes = [encode_attribute(BASE_KEY, base_id.encode()),
                  encode_attribute(TARGET_KEY, target_id.encode())]
    attributes += [encode_attribute(PATCH_KEY, _PATCH.pack(
        p.stored.to_bytes(16, "big"), p.digest.to_bytes(16, "big"),
        p.base.to_bytes(16, "big"), p.size)) for p in patches]
    index, start = [], 0
    for digest, data in carried.items():
        index.append(IndexEntry(start, start + len(data), digest))
        start += len(data)
    from moss.stone.records import encode_index_entry

    with writer._atomic_output(Path(out)) as f:
        f.write(file_header.FileHeader(5, FileType.DELTA).encode())
        writer._write_meta(f, meta, level)
        writer._write_records_payload(
            f, PayloadKind.LAYOUT, [encode_layout_entry(e) for e in layout], level)
        writer._write_records_payload(f, PayloadKind.ATTRIBUTES, attributes, level)
        writer._write_records_payload(
            f, PayloadKind.INDEX, [encode_index_entry(e) for e in index], level)
        writer._write_content(f, index, carried, level)


def read_delta(path: Path) -> Delta:
    """A delta's meta, layout and recipe (its content is streamed by :meth:`iter_content`)."""
    from moss.stone.reader import open_stone

    with open_stone(path) as reader:
        if reader.file_type is not FileType.DELTA:
            raise StoneError(f"{path}: not a delta (file type {reader.file_type.name})")
        meta = reader.package_meta()
        layout = reader.layout()
        attributes = reader.attributes()
    ids: dict[bytes, str] = {}
    patches: dict[int, Patch] = {}
    for key, value in attributes:
        if key in (BASE_KEY, TARGET_KEY):
            ids[key] = value.decode("ascii", "replace")
        elif key == PATCH_KEY and len(value) == _PATCH.size:
            stored, digest, base, size = _PATCH.unpack(value)
            if size > MAX_PATCH_INPUT:  # make_patch never patches more: a bomb
                raise StoneError(f"{path}: a patch claims {size} bytes, past {MAX_PATCH_INPUT}")
            patch = Patch(int.from_bytes(stored, "big"), int.from_bytes(digest, "big"),
                          int.from_bytes(base, "big"), size)
            patches[patch.stored] = patch
        else:
            raise StoneError(f"{path}: unknown delta attribute {key!r}")
    if set(ids) != {BASE_KEY, TARGET_KEY}:
        raise StoneError(f"{path}: a delta must name its base and target packages")
    return Delta(meta, layout, ids[BASE_KEY], ids[TARGET_KEY], patches)


def rebuild(path: Path, delta: Delta, base_blob: Callable[[int], bytes]
            ) -> Iterator[tuple[int, Iterable[bytes]]]:
    """Each blob the delta carries as chunks: a whole one streamed (the reader checks
    its XXH3-128 after the last chunk), a patched one applied to ``base_blob(digest)``
    and checked here.  A mismatch is a StoneError; nothing is guessed.  Consume each
    blob's chunks before asking for the next."""
    from moss.stone.digest import xxh3_128
    from moss.stone.reader import open_stone

    with open_stone(path) as reader:
        for entry, chunks in reader.iter_content():
            patch = delta.patches.get(entry.digest)
            if patch is None:
                yield entry.digest, chunks
                continue
            blob = apply_patch(base_blob(patch.base), b"".join(chunks), patch.size)
            if xxh3_128(blob) != patch.digest:
                raise StoneError(f"{path}: a patch rebuilt a blob other than {patch.digest:032x}")
            yield patch.digest, (blob,)


@dataclass(frozen=True)
class DeltaEntry:
    """One entry of ``stone.index.deltas``: the delta from package ``base`` to ``target``
    (both sha256 of the ``.stone``), at ``uri`` relative to the index, with its sha256."""

    name: str
    target: str
    base: str
    uri: str
    hash: str
    size: int


def encode_deltas(entries: Sequence[DeltaEntry]) -> bytes:
    data = {"version": 1, "deltas": [asdict(e) for e in entries]}
    return json.dumps(data, indent=1).encode() + b"\n"


def parse_deltas(text: bytes) -> list[DeltaEntry]:
    """``stone.index.deltas``; anything malformed lists no delta (full packages remain)."""
    try:
        data = json.loads(text)
        if data.get("version") != 1:
            return []
        return [DeltaEntry(str(e["name"]), str(e["target"]).lower(), str(e["base"]).lower(),
                           str(e["uri"]), str(e["hash"]).lower(), int(e["size"]))
                for e in data["deltas"]]
    except (ValueError, TypeError, KeyError, AttributeError):
        return []
