"""The 32-byte file header that opens every .stone file."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from moss.stone.enums import FileType
from moss.stone.errors import StoneError

MAGIC = b"\0mos"
INTEGRITY = bytes.fromhex("000001000002000003000004000005000006000007")
VERSION = 1
SIZE = 32
_STRUCT = struct.Struct(">4sH21sBI")


@dataclass(frozen=True)
class FileHeader:
    payload_count: int
    file_type: FileType
    version: int = VERSION

    def encode(self) -> bytes:
        return _STRUCT.pack(MAGIC, self.payload_count, INTEGRITY, self.file_type, self.version)


def decode_header(data: bytes, where: str) -> FileHeader:
    """Checks everything a v1 reader relies on; ``where`` names the file in errors."""
    if len(data) < SIZE:
        raise StoneError(f"{where}: truncated file header ({len(data)} of {SIZE} bytes)")
    magic, count, integrity, file_type, version = _STRUCT.unpack(data[:SIZE])
    if magic != MAGIC:
        raise StoneError(f"{where}: not a .stone file (magic {magic.hex()}, expected 006d6f73)")
    if version != VERSION:
        raise StoneError(f"{where}: unsupported format version {version} (this moss reads v1)")
    if integrity != INTEGRITY:
        raise StoneError(f"{where}: damaged file header (integrity bytes do not match)")
    try:
        kind = FileType(file_type)
    except ValueError:
        raise StoneError(f"{where}: unknown file type {file_type}") from None
    return FileHeader(payload_count=count, file_type=kind, version=version)
