"""The real .stone files from Serpent OS: every one reads, checks out and extracts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import zstandard

from moss.stone import (
    EMPTY_DIGEST,
    Dependency,
    DependencyKind,
    FileKind,
    FileType,
    PayloadKind,
    StoneError,
    digest_hex,
    open_stone,
    write_stone,
    xxh3_128,
)

PACKAGES = [
    "bash-completion-2.11-1-1-x86_64.stone",
    "italian-pizza-1-1-1-x86_64.stone",
    "pineapple-1-1-1-x86_64.stone",
]


def test_sha256sums_match(stone_testdata: Path) -> None:
    lines = (stone_testdata / "SHA256SUMS").read_text().split("\n")
    sums: dict[str, str] = {}
    for line in lines:
        if line.strip():
            digest, name = line.split()
            sums[name] = digest
    assert len(sums) == 5
    for name, expected in sums.items():
        assert hashlib.sha256((stone_testdata / name).read_bytes()).hexdigest() == expected


def test_every_file_opens_and_every_payload_checksum_verifies(stone_testdata: Path) -> None:
    for path in sorted(stone_testdata.glob("*")):
        if path.name == "SHA256SUMS":
            continue
        with open_stone(path) as reader:
            assert reader.version == 1
            # Reading each record payload verifies its checksum first.
            reader.meta_records()
            reader.layout()
            reader.index()
            reader.attributes()
            for _entry, chunks in reader.iter_content():
                for _ in chunks:
                    pass


def test_every_package_streams_content_matching_its_layout(stone_testdata: Path) -> None:
    for name in PACKAGES:
        with open_stone(stone_testdata / name) as reader:
            assert reader.file_type is FileType.BINARY
            kinds = [h.kind for h in reader.payload_headers()]
            assert kinds == [
                PayloadKind.META,
                PayloadKind.LAYOUT,
                PayloadKind.INDEX,
                PayloadKind.CONTENT,
            ]
            digests = {e.digest for e in reader.layout() if e.file_kind is FileKind.REGULAR}
            seen = set()
            for entry, chunks in reader.iter_content():
                data = b"".join(chunks)
                assert len(data) == entry.end - entry.start
                assert xxh3_128(data) == entry.digest
                seen.add(entry.digest)
            assert seen == digests


def test_bash_completion_facts(stone_testdata: Path) -> None:
    with open_stone(stone_testdata / PACKAGES[0]) as reader:
        meta = reader.package_meta()
        layout = reader.layout()
        headers = reader.payload_headers()
    assert len(layout) == 745
    assert meta.id == "bash-completion-2.11-1-1.x86_64"
    assert meta.licenses == ["GPL-2.0-or-later"]
    assert Dependency(DependencyKind.CMAKE, "bash-completion") in meta.provides
    assert str(meta.provides[0]) == "cmake(bash-completion)"
    # The older writer NUL-terminated strings; the reader strips them.
    assert all("\0" not in e.target for e in layout)
    assert "share/bash-completion/bash_completion" in {e.target for e in layout}
    assert any(e.file_kind is FileKind.SYMLINK for e in layout)
    assert headers[3].records == 474  # older writers count the files in Content


def test_pineapple_holds_one_empty_file(stone_testdata: Path) -> None:
    with open_stone(stone_testdata / PACKAGES[2]) as reader:
        (entry,) = reader.layout()
        contents = [(e, b"".join(c)) for e, c in reader.iter_content()]
    assert entry.target == "share/defaults/pienapple"
    assert entry.mode == 0o100644
    assert digest_hex(entry.digest) == "99aa06d3014798d86001c324468d497f"
    assert [data for _, data in contents] == [b""]


def test_italian_pizza_conflicts_with_pineapple(stone_testdata: Path) -> None:
    with open_stone(stone_testdata / PACKAGES[1]) as reader:
        meta = reader.package_meta()
    assert meta.conflicts == [Dependency(DependencyKind.PACKAGE_NAME, "pineapple")]
    assert meta.name == "italian-pizza"


def test_manifest_is_a_build_manifest(stone_testdata: Path) -> None:
    with open_stone(stone_testdata / "manifest.nano.x86_64.bin") as reader:
        assert reader.file_type is FileType.BUILD_MANIFEST
        meta = reader.package_meta()
    assert meta.name == "nano"
    assert meta.release == 33
    assert "soname(libc.so.6(x86_64))" in [str(d) for d in meta.depends]
    # Build dependencies are not modelled: kept as records, unchanged.
    assert [str(r.value) for r in meta.extra] == [
        "pkgconfig(libmagic)",
        "pkgconfig(ncursesw)",
        "pkgconfig(zlib)",
    ]


def test_empty_index_has_zero_payloads(stone_testdata: Path) -> None:
    with open_stone(stone_testdata / "empty-stone.index") as reader:
        assert reader.file_type is FileType.REPOSITORY
        assert reader.payload_headers() == []
        assert list(reader.repository_metas()) == []


def test_real_file_with_flipped_body_byte_fails_its_checksum(
    stone_testdata: Path, tmp_path: Path
) -> None:
    data = bytearray((stone_testdata / PACKAGES[0]).read_bytes())
    data[32 + 32 + 10] ^= 0xFF  # inside the Meta body
    bad = tmp_path / "bad.stone"
    bad.write_bytes(bytes(data))
    with (
        open_stone(bad) as reader,
        pytest.raises(StoneError, match=r"payload 0 \(Meta\): checksum mismatch") as exc,
    ):
        reader.meta_records()
    assert str(bad) in str(exc.value)


def _plain_payloads(path: Path) -> list[bytes]:
    """Every payload's decompressed bytes, read by hand from the offsets in the file."""
    data = path.read_bytes()
    out, offset = [], 32
    while offset < len(data):
        stored = int.from_bytes(data[offset : offset + 8], "big")
        body = data[offset + 32 : offset + 32 + stored]
        out.append(zstandard.ZstdDecompressor().decompressobj().decompress(body))
        offset += 32 + stored
    return out


@pytest.mark.parametrize("name", PACKAGES[1:])
def test_writer_reproduces_real_payloads_byte_for_byte(
    stone_testdata: Path, tmp_path: Path, name: str
) -> None:
    """What we write from a real package's records is what boulder wrote."""
    with open_stone(stone_testdata / name) as reader:
        meta = reader.package_meta()
        layout = reader.layout()
    out = tmp_path / name
    write_stone(out, meta, layout, {EMPTY_DIGEST: b""})
    assert _plain_payloads(out) == _plain_payloads(stone_testdata / name)
