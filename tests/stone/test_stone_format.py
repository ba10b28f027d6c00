"""Format details a compatible reader must get right, on files made here."""

from __future__ import annotations

from pathlib import Path

import pytest
import xxhash
import zstandard

from moss.stone import (
    Compression,
    Dependency,
    DependencyKind,
    FileKind,
    FileType,
    LayoutEntry,
    MetaRecord,
    PackageMeta,
    PayloadHeader,
    PayloadKind,
    StoneError,
    digest_bytes,
    digest_hex,
    open_stone,
    write_repository_index,
    write_stone,
    xxh3_128,
)
from moss.stone.header import FileHeader
from moss.stone.records import IndexEntry, encode_attribute, encode_index_entry, encode_layout_entry


def raw_payload(kind: PayloadKind, plain: bytes, records: int, stored: bytes) -> bytes:
    compression = Compression.NONE if stored == plain else Compression.ZSTD
    header = PayloadHeader(
        kind, compression, len(stored), len(plain), xxhash.xxh3_64_intdigest(stored), records
    )
    return header.encode() + stored


def package_with_content_frame(tmp_path: Path, data: bytes, frame: bytes) -> Path:
    digest = xxh3_128(data)
    layout = LayoutEntry(0, 0, 0o100644, 0, FileKind.REGULAR, digest_bytes(digest), "share/f")
    index = encode_index_entry(IndexEntry(0, len(data), digest))
    lay = encode_layout_entry(layout)
    path = tmp_path / "p.stone"
    path.write_bytes(
        FileHeader(3, FileType.BINARY).encode()
        + raw_payload(PayloadKind.LAYOUT, lay, 1, lay)  # uncompressed
        + raw_payload(PayloadKind.INDEX, index, 1, zstandard.compress(index))
        + raw_payload(PayloadKind.CONTENT, data, 0, frame)
    )
    return path


def test_content_frame_without_content_size(tmp_path: Path) -> None:
    data = b"older writers left the content size out of the frame\n" * 5000
    frame = zstandard.ZstdCompressor(write_content_size=False).compress(data)
    assert zstandard.get_frame_parameters(frame).content_size == zstandard.CONTENTSIZE_UNKNOWN
    with open_stone(package_with_content_frame(tmp_path, data, frame)) as reader:
        assert [b"".join(c) for _, c in reader.iter_content()] == [data]


def test_content_frame_with_a_2_gib_window(tmp_path: Path) -> None:
    """boulder compresses with window log 31; the default decoder limit is 2^27."""
    data = bytes(range(256)) * 4096
    params = zstandard.ZstdCompressionParameters.from_level(
        3, window_log=31, write_content_size=False
    )
    cctx = zstandard.ZstdCompressor(compression_params=params)
    cobj = cctx.compressobj()  # streaming: the size is unknown, so the window stays
    frame = cobj.compress(data) + cobj.flush()
    assert zstandard.get_frame_parameters(frame).window_size == 1 << 31
    with pytest.raises(zstandard.ZstdError):
        zstandard.ZstdDecompressor().decompressobj().decompress(frame)
    with open_stone(package_with_content_frame(tmp_path, data, frame)) as reader:
        assert [b"".join(c) for _, c in reader.iter_content()] == [data]


def test_chunks_are_at_most_one_mib(tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * 4096 + 17)  # just over 3 MiB
    frame = zstandard.compress(data)
    with open_stone(package_with_content_frame(tmp_path, data, frame)) as reader:
        _, chunks = next(reader.iter_content())
        sizes = [len(c) for c in chunks]
    assert max(sizes) <= 1 << 20
    assert sum(sizes) == len(data)


def test_unknown_meta_tags_and_types_survive_a_round_trip(tmp_path: Path) -> None:
    meta = PackageMeta(name="n", version="1", release=1)
    meta.extra = [
        MetaRecord(99, 9, "a newer tag"),
        MetaRecord(42, 77, b"\x01\x02 raw bytes of an unknown type"),
        MetaRecord(17, 10, Dependency(DependencyKind.PKGCONFIG, "zlib")),
    ]
    out = tmp_path / "p.stone"
    write_stone(out, meta, [], {})
    with open_stone(out) as reader:
        back = reader.package_meta()
        records = reader.meta_records()
    assert back == meta
    assert records[-3:] == meta.extra


def test_missing_name_is_an_error(tmp_path: Path) -> None:
    meta = PackageMeta(name="n", version="1", release=1)
    records = [r for r in meta.to_records() if r.tag != 1]
    with pytest.raises(StoneError, match="missing name"):
        PackageMeta.from_records(records)


def test_attributes_are_read(tmp_path: Path) -> None:
    plain = encode_attribute(b"key", b"value") + encode_attribute(b"", b"\0")
    path = tmp_path / "a.stone"
    path.write_bytes(
        FileHeader(1, FileType.BINARY).encode()
        + raw_payload(PayloadKind.ATTRIBUTES, plain, 2, zstandard.compress(plain))
    )
    with open_stone(path) as reader:
        assert reader.attributes() == [(b"key", b"value"), (b"", b"\0")]


def test_repository_index_round_trip(tmp_path: Path) -> None:
    metas = [
        PackageMeta(name="a", version="1", release=2, uri="a.stone", hash="ab" * 32, size=9),
        PackageMeta(name="b", version="2", release=1, depends=[Dependency.parse("a")]),
    ]
    write_repository_index(tmp_path / "stone.index", metas)
    with open_stone(tmp_path / "stone.index") as reader:
        assert reader.file_type is FileType.REPOSITORY
        assert list(reader.repository_metas()) == metas


def test_digest_helpers() -> None:
    assert digest_hex(xxh3_128(b"")) == "99aa06d3014798d86001c324468d497f"
    assert digest_hex(0x0ABC) == "abc"  # no zero padding: the store path form
    assert digest_bytes(1) == b"\0" * 15 + b"\1"
    entry = LayoutEntry(0, 0, 0o120777, 0, FileKind.SYMLINK, "x", "bin/y")
    with pytest.raises(ValueError):
        _ = entry.digest


def test_writer_refuses_content_that_changed_since_hashing(tmp_path: Path) -> None:
    src = tmp_path / "f"
    src.write_bytes(b"before")
    digest = xxh3_128(src)
    src.write_bytes(b"after!")
    layout = [LayoutEntry(0, 0, 0o100644, 0, FileKind.REGULAR, digest_bytes(digest), "f")]
    out = tmp_path / "p.stone"
    with pytest.raises(StoneError, match="changed while packing"):
        write_stone(out, PackageMeta(name="n", version="1", release=1), layout, {digest: src})
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["f"]  # no temp file left
