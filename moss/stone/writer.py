"""Writing .stone files that real moss reads: Meta, Layout, Index, Content.

Files are written to a temporary file beside the output and renamed into place,
so a failed or interrupted write never leaves a half package under the real name.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

import xxhash
import zstandard

from moss.stone import header as file_header
from moss.stone import payload
from moss.stone.enums import Compression, FileKind, FileType, PayloadKind
from moss.stone.errors import StoneError
from moss.stone.meta import PackageMeta
from moss.stone.payload import PayloadHeader
from moss.stone.records import (
    IndexEntry,
    LayoutEntry,
    encode_index_entry,
    encode_layout_entry,
    encode_meta_record,
)

CHUNK = 1 << 20


def _umask() -> int:
    """The process's umask (only readable by setting it, so set it back at once)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


@contextmanager
def _atomic_output(out: Path) -> Iterator[BinaryIO]:
    """A new file at ``out`` or none: written aside, fsynced, renamed into place.

    ``mkstemp`` creates its file 0600; the finished file gets the mode ``open()``
    would have given it (0666 less the umask), or a web server running as another
    user answers 404 for a freshly packed or indexed repository.
    """
    out = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent)
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fchmod(f.fileno(), 0o666 & ~_umask())
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _write_records_payload(
    f: BinaryIO, kind: PayloadKind, chunks: Sequence[bytes], level: int
) -> None:
    plain = b"".join(chunks)
    stored = payload.compress(plain, Compression.ZSTD, level)
    ph = PayloadHeader(
        kind=kind,
        compression=Compression.ZSTD,
        stored_size=len(stored),
        plain_size=len(plain),
        checksum=xxhash.xxh3_64_intdigest(stored),
        records=len(chunks),
    )
    f.write(ph.encode())
    f.write(stored)


def _write_meta(f: BinaryIO, meta: PackageMeta, level: int) -> None:
    try:
        chunks = [encode_meta_record(r) for r in meta.to_records()]
    except ValueError as exc:
        raise StoneError(f"meta of {meta.name}: {exc}") from None
    _write_records_payload(f, PayloadKind.META, chunks, level)


class _HashingWriter:
    """Counts and XXH3-64-hashes the compressed bytes on their way to the file."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.hasher = xxhash.xxh3_64()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hasher.update(data)
        self.size += len(data)
        self._f.write(data)
        return len(data)

    def flush(self) -> None:
        self._f.flush()


def _content_chunks(source: Path | bytes) -> Iterator[bytes]:
    if isinstance(source, bytes | bytearray | memoryview):
        yield bytes(source)
        return
    with Path(source).open("rb") as src:
        while chunk := src.read(CHUNK):
            yield chunk


def _write_content(
    f: BinaryIO, index: Sequence[IndexEntry], contents: Mapping[int, Path | bytes], level: int,
    on_file: Callable[[], None] | None = None,
) -> None:
    """One zstd frame with every unique file back to back, each re-hashed as it goes.

    A file that changed since its digest was taken would make a package whose
    digests lie; that is an error here rather than a surprise at install time.
    ``on_file`` is called after each file: packing a large tree is long, and the
    caller's progress display advances with it.
    """
    total = index[-1].end if index else 0
    header_at = f.tell()
    f.write(b"\0" * payload.SIZE)
    out = _HashingWriter(f)
    cctx = zstandard.ZstdCompressor(level=level)
    with cctx.stream_writer(out, size=total, closefd=False) as zw:  # type: ignore[arg-type]
        for entry in index:
            hasher = xxhash.xxh3_128()
            size = 0
            for chunk in _content_chunks(contents[entry.digest]):
                hasher.update(chunk)
                size += len(chunk)
                zw.write(chunk)
            if hasher.intdigest() != entry.digest or size != entry.size:
                raise StoneError(
                    f"content {entry.digest:032x} changed while packing "
                    f"(now {size} bytes hashing to {hasher.intdigest():032x})"
                )
            if on_file is not None:
                on_file()
    end = f.tell()
    ph = PayloadHeader(
        kind=PayloadKind.CONTENT,
        compression=Compression.ZSTD,
        stored_size=out.size,
        plain_size=total,
        checksum=out.hasher.intdigest(),
        records=0,
    )
    f.seek(header_at)
    f.write(ph.encode())
    f.seek(end)


def _plan_index(
    layout: Sequence[LayoutEntry], contents: Mapping[int, Path | bytes]
) -> list[IndexEntry]:
    """Each unique digest once, in the order the layout first names it."""
    sizes: dict[int, int] = {}
    for entry in layout:
        if entry.file_kind is not FileKind.REGULAR or entry.digest in sizes:
            continue
        if entry.digest not in contents:
            raise StoneError(f"layout entry {entry.target!r}: no content for its digest")
        source = contents[entry.digest]
        sizes[entry.digest] = (
            len(source) if isinstance(source, bytes) else Path(source).stat().st_size
        )
    index = []
    start = 0
    for digest, size in sizes.items():
        index.append(IndexEntry(start, start + size, digest))
        start += size
    return index


def write_stone(
    out: Path,
    meta: PackageMeta,
    layout: Sequence[LayoutEntry],
    contents: Mapping[int, Path | bytes],
    level: int = 3,
    on_file: Callable[[], None] | None = None,
) -> None:
    """Writes a package (file type 1): Meta, Layout, Index, Content.

    ``on_file`` is called once per unique file written to the content payload.
    """
    index = _plan_index(layout, contents)
    payloads = 4
    with _atomic_output(Path(out)) as f:
        f.write(file_header.FileHeader(payloads, FileType.BINARY).encode())
        _write_meta(f, meta, level)
        _write_records_payload(
            f, PayloadKind.LAYOUT, [encode_layout_entry(e) for e in layout], level
        )
        _write_records_payload(
            f, PayloadKind.INDEX, [encode_index_entry(e) for e in index], level
        )
        _write_content(f, index, contents, level, on_file)


def write_repository_index(out: Path, metas: Sequence[PackageMeta], level: int = 3) -> None:
    """Writes a repository index (file type 3): one Meta payload per package."""
    with _atomic_output(Path(out)) as f:
        f.write(file_header.FileHeader(len(metas), FileType.REPOSITORY).encode())
        for meta in metas:
            _write_meta(f, meta, level)

