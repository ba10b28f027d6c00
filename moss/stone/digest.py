"""XXH3 helpers: the digests that name file contents in layouts, indexes and the store."""

from __future__ import annotations

from pathlib import Path

import xxhash

CHUNK = 1 << 20


def xxh3_128(data_or_path: bytes | bytearray | memoryview | Path) -> int:
    """XXH3-128 of bytes, or of a file's content read in chunks (never whole)."""
    if isinstance(data_or_path, Path):
        hasher = xxhash.xxh3_128()
        with data_or_path.open("rb") as f:
            while chunk := f.read(CHUNK):
                hasher.update(chunk)
        return hasher.intdigest()
    return xxhash.xxh3_128_intdigest(bytes(data_or_path))


def xxh3_64(data: bytes | bytearray | memoryview) -> int:
    return xxhash.xxh3_64_intdigest(bytes(data))


def digest_hex(digest: int) -> str:
    """Lowercase hex without zero padding: the store path form real moss uses."""
    return format(digest, "x")


def digest_bytes(digest: int) -> bytes:
    """The 16 big-endian bytes a layout or index record carries."""
    return digest.to_bytes(16, "big")


EMPTY_DIGEST = xxh3_128(b"")
