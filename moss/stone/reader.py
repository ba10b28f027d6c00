"""Reading .stone files: header and payload table at open, payloads on demand.

The reader streams. It keeps the payload headers and their offsets, and reads a
payload's body only when asked. Record payloads are held in memory one at a time;
Content is only ever streamed, a bounded chunk at a time.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import xxhash

from moss.stone import header as file_header
from moss.stone import payload, records
from moss.stone.enums import FileType, PayloadKind
from moss.stone.errors import StoneError
from moss.stone.meta import PackageMeta
from moss.stone.payload import PayloadHeader
from moss.stone.records import IndexEntry, LayoutEntry, MetaRecord

CHUNK = 1 << 20
#: Plain bytes of all record payloads of one file together. Each payload has its
#: own bound (:data:`payload.LIMITS`); this one stops a repository index of
#: thousands of Meta payloads, each within its bound, from adding up to gigabytes.
#: Real indexes of a whole distribution hold a few MiB.
MAX_METADATA_TOTAL = 24 << 20
#: Only Meta repeats (one per package in a repository index).
_AT_MOST_ONCE = (PayloadKind.LAYOUT, PayloadKind.INDEX, PayloadKind.CONTENT, PayloadKind.ATTRIBUTES)


class StoneReader:
    """An open .stone file. Use :func:`open_stone`; methods may be called in any order."""

    def __init__(self, path: Path, f: BinaryIO) -> None:
        self.path = path
        self._f = f
        size = os.fstat(f.fileno()).st_size
        header = file_header.decode_header(f.read(file_header.SIZE), str(path))
        self.file_type: FileType = header.file_type
        self.version: int = header.version
        self._payloads: list[tuple[PayloadHeader, int]] = []
        offset = file_header.SIZE
        for i in range(header.payload_count):
            where = f"{path}: payload {i}"
            f.seek(offset)
            ph = payload.decode_payload_header(f.read(payload.SIZE), where)
            body = offset + payload.SIZE
            if body + ph.stored_size > size:
                raise StoneError(
                    f"{where} ({ph.kind.name.title()}): truncated file "
                    f"(body of {ph.stored_size} bytes runs past the end at {size})"
                )
            self._payloads.append((ph, body))
            offset = body + ph.stored_size
        if offset != size:
            raise StoneError(f"{path}: {size - offset} unexpected bytes after the last payload")
        metadata = sum(ph.plain_size for ph, _ in self._payloads
                       if ph.kind is not PayloadKind.CONTENT)
        if metadata > MAX_METADATA_TOTAL:
            raise StoneError(f"{path}: {metadata} bytes of records in all, past the limit "
                             f"of {MAX_METADATA_TOTAL}")
        kinds = [ph.kind for ph, _ in self._payloads]
        for kind in _AT_MOST_ONCE:
            if kinds.count(kind) > 1:
                raise StoneError(f"{path}: more than one {kind.name.title()} payload")

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> StoneReader:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- payload access -----------------------------------------------------------

    def payload_headers(self) -> list[PayloadHeader]:
        return [ph for ph, _ in self._payloads]

    def _where(self, index: int) -> str:
        return f"{self.path}: payload {index} ({self._payloads[index][0].kind.name.title()})"

    def _find(self, kind: PayloadKind) -> int | None:
        for i, (ph, _) in enumerate(self._payloads):
            if ph.kind is kind:
                return i
        return None

    def has_payload(self, kind: PayloadKind) -> bool:
        return self._find(kind) is not None

    def _plain(self, index: int) -> bytearray:
        ph, offset = self._payloads[index]
        return payload.read_plain(self._f, offset, ph, self._where(index))

    # --- records ------------------------------------------------------------------

    def _meta_at(self, index: int) -> list[MetaRecord]:
        ph = self._payloads[index][0]
        return records.decode_meta(self._plain(index), ph.records, self._where(index))

    def meta_records(self) -> list[MetaRecord]:
        """The first Meta payload's records ([] when there is none)."""
        index = self._find(PayloadKind.META)
        return [] if index is None else self._meta_at(index)

    def package_meta(self) -> PackageMeta:
        index = self._find(PayloadKind.META)
        if index is None:
            raise StoneError(f"{self.path}: no Meta payload")
        return PackageMeta.from_records(self._meta_at(index), self._where(index))

    def repository_metas(self) -> Iterator[PackageMeta]:
        """One PackageMeta per Meta payload, as a repository index holds them."""
        for i, (ph, _) in enumerate(self._payloads):
            if ph.kind is PayloadKind.META:
                yield PackageMeta.from_records(self._meta_at(i), self._where(i))

    def layout(self) -> list[LayoutEntry]:
        index = self._find(PayloadKind.LAYOUT)
        if index is None:
            return []
        ph = self._payloads[index][0]
        return records.decode_layout(self._plain(index), ph.records, self._where(index))

    def index(self) -> list[IndexEntry]:
        index = self._find(PayloadKind.INDEX)
        if index is None:
            return []
        ph = self._payloads[index][0]
        return records.decode_index(self._plain(index), ph.records, self._where(index))

    def attributes(self) -> list[tuple[bytes, bytes]]:
        index = self._find(PayloadKind.ATTRIBUTES)
        if index is None:
            return []
        ph = self._payloads[index][0]
        return records.decode_attributes(self._plain(index), ph.records, self._where(index))

    # --- content ------------------------------------------------------------------

    def iter_content(self) -> Iterator[tuple[IndexEntry, Iterator[bytes]]]:
        """Each unique file of the Content payload, in order of ``start``, as chunks.

        Each file's XXH3-128 is checked as it streams: its chunk iterator raises
        StoneError after the last chunk on a mismatch. Consume each file's chunks
        before asking for the next file (unconsumed chunks are checked and dropped).
        """
        entries = sorted(self.index(), key=lambda e: (e.start, e.end))
        content = self._find(PayloadKind.CONTENT)
        if content is None:
            if any(e.size for e in entries):
                raise StoneError(f"{self.path}: index lists content but there is no Content")
            for entry in entries:
                yield entry, _checked(iter(()), entry, f"{self.path}: index")
            return
        ph, offset = self._payloads[content]
        where = self._where(content)
        previous_end = 0
        for i, entry in enumerate(entries):
            if entry.end > ph.plain_size:
                raise StoneError(
                    f"{where}: index entry {i} ({entry.start}..{entry.end}) lies outside "
                    f"the content of {ph.plain_size} bytes"
                )
            if entry.start < previous_end:
                raise StoneError(f"{where}: index entry {i} overlaps the one before it")
            previous_end = entry.end
        payload.verify_checksum(self._f, offset, ph, where)
        stream = _Stream(payload.iter_plain(self._f, offset, ph, where), where)
        for entry in entries:
            stream.skip(entry.start - stream.position)
            chunks = _checked(stream.take(entry.size), entry, where)
            yield entry, chunks
            for _ in chunks:  # drain what the caller left, still checking the digest
                pass
        stream.skip_to_end()


class _Stream:
    """A position in a chunked byte stream, to take exact byte ranges from it."""

    def __init__(self, chunks: Iterator[bytes], where: str) -> None:
        self._chunks = chunks
        self._where = where
        self._buffer = memoryview(b"")
        self.position = 0

    def _fill(self) -> bool:
        if not self._buffer:
            self._buffer = memoryview(next(self._chunks, b""))
        return bool(self._buffer)

    def take(self, size: int) -> Iterator[bytes]:
        while size > 0:
            if not self._fill():
                raise StoneError(f"{self._where}: content ended early")
            piece = self._buffer[: min(size, CHUNK)]
            self._buffer = self._buffer[len(piece) :]
            size -= len(piece)
            self.position += len(piece)
            yield bytes(piece)

    def skip(self, size: int) -> None:
        for _ in self.take(size):
            pass

    def skip_to_end(self) -> None:
        while self._fill():
            self.position += len(self._buffer)
            self._buffer = memoryview(b"")


def _checked(chunks: Iterator[bytes], entry: IndexEntry, where: str) -> Iterator[bytes]:
    hasher = xxhash.xxh3_128()
    for chunk in chunks:
        hasher.update(chunk)
        yield chunk
    if hasher.intdigest() != entry.digest:
        raise StoneError(
            f"{where}: file {entry.digest:032x} ({entry.start}..{entry.end}) "
            f"does not match its digest (content hashes to {hasher.intdigest():032x})"
        )


def open_stone(path: Path) -> StoneReader:
    """Opens and checks the header and payload table; the caller closes it (``with``)."""
    path = Path(path)
    try:
        f = path.open("rb")
    except OSError as exc:
        raise StoneError(f"{path}: {exc.strerror}") from None
    try:
        return StoneReader(path, f)
    except BaseException:
        f.close()
        raise
