"""Payload headers and the bounded, streaming decoding of payload bodies.

A payload body is read twice: once to check its XXH3-64 checksum, then to
decompress it. That keeps the promise that no byte is used before its checksum
is verified while holding at most one chunk of stored bytes in memory.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import xxhash
import zstandard

from moss.stone.enums import Compression, PayloadKind
from moss.stone.errors import StoneError

SIZE = 32
VERSION = 1
CHUNK = 1 << 20
#: zstd windows up to 2^31 are legal in real files (boulder uses window log 31).
MAX_WINDOW = 1 << 31
#: Largest plain size accepted for a Content payload, which is only ever streamed.
MAX_CONTENT_PAYLOAD = 1 << 40


@dataclass(frozen=True)
class Limits:
    """What one record payload may hold: it is decoded whole, so it is bounded whole.

    ``plain`` caps the bytes held at once and ``records`` the objects decoded
    from them (a decoder stops at the first record that runs past the bytes).
    """

    plain: int
    records: int


#: Bounds for the payloads held in memory, far above real packages (the largest
#: layouts have tens of thousands of paths; a Meta is a few KiB) and small enough
#: that reading any file stays within about 100 MB.  Content is streamed instead.
LIMITS: dict[PayloadKind, Limits] = {
    PayloadKind.META: Limits(plain=4 << 20, records=1 << 16),
    PayloadKind.LAYOUT: Limits(plain=16 << 20, records=1 << 16),
    PayloadKind.INDEX: Limits(plain=(1 << 16) * 32, records=1 << 16),
    PayloadKind.ATTRIBUTES: Limits(plain=4 << 20, records=1 << 16),
    PayloadKind.DUMB: Limits(plain=4 << 20, records=1 << 16),
}
_STRUCT = struct.Struct(">QQQIHBB")


@dataclass(frozen=True)
class PayloadHeader:
    kind: PayloadKind
    compression: Compression
    stored_size: int
    plain_size: int
    checksum: int
    records: int
    version: int = VERSION

    def encode(self) -> bytes:
        return _STRUCT.pack(
            self.stored_size,
            self.plain_size,
            self.checksum,
            self.records,
            self.version,
            self.kind,
            self.compression,
        )


def decode_payload_header(data: bytes, where: str) -> PayloadHeader:
    if len(data) < SIZE:
        raise StoneError(f"{where}: truncated payload header ({len(data)} of {SIZE} bytes)")
    stored, plain, checksum, records, version, kind, compression = _STRUCT.unpack(data[:SIZE])
    try:
        payload_kind = PayloadKind(kind)
    except ValueError:
        raise StoneError(f"{where}: unknown payload kind {kind}") from None
    try:
        comp = Compression(compression)
    except ValueError:
        raise StoneError(f"{where}: unknown compression {compression}") from None
    if version != VERSION:
        raise StoneError(f"{where}: unsupported payload version {version}")
    if comp is Compression.NONE and stored != plain:
        raise StoneError(
            f"{where}: uncompressed payload with stored size {stored} != plain size {plain}"
        )
    _check_limits(payload_kind, plain, records, where)
    return PayloadHeader(payload_kind, comp, stored, plain, checksum, records, version)


def _check_limits(kind: PayloadKind, plain: int, records: int, where: str) -> None:
    """Refuses, from the header alone, a payload that would take too much to decode."""
    if kind is PayloadKind.CONTENT:
        if plain > MAX_CONTENT_PAYLOAD:
            raise StoneError(f"{where}: plain size {plain} is past the limit of "
                             f"{MAX_CONTENT_PAYLOAD} bytes")
        return
    limits = LIMITS[kind]
    name = kind.name.title()
    if plain > limits.plain:
        raise StoneError(f"{where}: {name} plain size {plain} is past the limit of "
                         f"{limits.plain} bytes")
    if records > limits.records:
        raise StoneError(f"{where}: {name} claims {records} records, past the limit of "
                         f"{limits.records}")


class _BodyReader:
    """A file-like view of one payload body: reads stop at its end."""

    def __init__(self, f: BinaryIO, offset: int, size: int) -> None:
        self._f = f
        self._offset = offset
        self._left = size
        f.seek(offset)

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        want = self._left if size < 0 else min(size, self._left)
        data = self._f.read(min(want, CHUNK))
        self._left -= len(data)
        return data


def verify_checksum(f: BinaryIO, offset: int, header: PayloadHeader, where: str) -> None:
    """Streams the stored body once through XXH3-64 and compares with the header."""
    body = _BodyReader(f, offset, header.stored_size)
    hasher = xxhash.xxh3_64()
    seen = 0
    while chunk := body.read(CHUNK):
        hasher.update(chunk)
        seen += len(chunk)
    if seen != header.stored_size:
        raise StoneError(f"{where}: truncated body ({seen} of {header.stored_size} bytes)")
    if hasher.intdigest() != header.checksum:
        raise StoneError(
            f"{where}: checksum mismatch (stored {header.checksum:016x}, "
            f"computed {hasher.intdigest():016x})"
        )


def iter_plain(
    f: BinaryIO, offset: int, header: PayloadHeader, where: str, chunk: int = CHUNK
) -> Iterator[bytes]:
    """The plain bytes of a payload in chunks of at most ``chunk`` bytes.

    The total must equal the declared plain size exactly: more is a zstd bomb or a
    lying header and stops as soon as it passes the declared size; less is a
    truncated frame. Call :func:`verify_checksum` first.
    """
    body = _BodyReader(f, offset, header.stored_size)
    total = 0
    if header.compression is Compression.NONE:
        while data := body.read(chunk):
            total += len(data)
            yield data
    else:
        dctx = zstandard.ZstdDecompressor(max_window_size=MAX_WINDOW)
        try:
            reader_cm = dctx.stream_reader(
                body,  # type: ignore[arg-type]
                read_size=CHUNK,
                read_across_frames=False,
            )
            with reader_cm as reader:
                while True:
                    # Ask for one byte more than allowed so a bomb is seen at once.
                    want = min(chunk, header.plain_size - total + 1)
                    data = reader.read(want)
                    if not data:
                        break
                    total += len(data)
                    if total > header.plain_size:
                        raise StoneError(
                            f"{where}: decompresses past its declared plain size "
                            f"of {header.plain_size} bytes"
                        )
                    yield data
        except zstandard.ZstdError as exc:
            raise StoneError(f"{where}: zstd: {exc}") from None
    if total != header.plain_size:
        raise StoneError(
            f"{where}: {total} plain bytes does not match the declared plain size of "
            f"{header.plain_size} (the data is cut short or the header lies)"
        )


def read_plain(f: BinaryIO, offset: int, header: PayloadHeader, where: str) -> bytearray:
    """A whole payload's plain bytes (for the record payloads, never for Content).

    The buffer is allocated once at the declared (bounded) size and filled in
    place: no growing, no final copy.
    """
    if header.kind is PayloadKind.CONTENT:
        raise ValueError(f"{where}: Content is streamed, never read whole")
    verify_checksum(f, offset, header, where)
    out = bytearray(header.plain_size)
    view = memoryview(out)
    position = 0
    for data in iter_plain(f, offset, header, where):
        view[position : position + len(data)] = data
        position += len(data)
    view.release()
    return out


def compress(data: bytes, compression: Compression, level: int) -> bytes:
    if compression is Compression.NONE:
        return data
    return zstandard.ZstdCompressor(level=level).compress(data)
