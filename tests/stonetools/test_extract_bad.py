"""Hostile and broken packages: a one-line error, exit status 1, nothing written.

Each bad file is crafted byte by byte here (the real writer refuses to make
them), then fed to ``moss extract`` through the CLI entry point.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
import xxhash
import zstandard

from moss.cli import main
from moss.stone import (
    Compression,
    FileKind,
    FileType,
    IndexEntry,
    LayoutEntry,
    PackageMeta,
    PayloadHeader,
    PayloadKind,
    digest_bytes,
    xxh3_128,
)
from moss.stone.header import FileHeader
from moss.stone.records import encode_index_entry, encode_layout_entry, encode_meta_record
from moss.stone.targets import MAX_DEPTH

# --- crafting ----------------------------------------------------------------------


@dataclass
class Payload:
    kind: PayloadKind
    plain: bytes
    records: int
    plain_size: int | None = None  # a lie, when set
    checksum: int | None = None  # a lie, when set
    body: bytes | None = None  # stored bytes, instead of compressing ``plain``

    def encode(self) -> bytes:
        stored = self.body if self.body is not None else zstandard.compress(self.plain)
        header = PayloadHeader(
            kind=self.kind,
            compression=Compression.ZSTD,
            stored_size=len(stored),
            plain_size=len(self.plain) if self.plain_size is None else self.plain_size,
            checksum=xxhash.xxh3_64_intdigest(stored) if self.checksum is None else self.checksum,
            records=self.records,
        )
        return header.encode() + stored


def stone(payloads: Sequence[Payload], file_type: FileType = FileType.BINARY) -> bytes:
    return FileHeader(len(payloads), file_type).encode() + b"".join(p.encode() for p in payloads)


def regular(target: str, data: bytes, mode: int = 0o100644) -> LayoutEntry:
    return LayoutEntry(0, 0, mode, 0, FileKind.REGULAR, digest_bytes(xxh3_128(data)), target)


def symlink(target: str, link: str) -> LayoutEntry:
    return LayoutEntry(0, 0, 0o120777, 0, FileKind.SYMLINK, link, target)


def package_payloads(
    layout: Sequence[LayoutEntry],
    files: Sequence[bytes],
    index: Sequence[IndexEntry] | None = None,
    content: bytes | None = None,
) -> list[Payload]:
    """Meta, Layout, Index, Content; index and content follow ``files`` unless given."""
    if index is None:
        index, start = [], 0
        for data in files:
            index.append(IndexEntry(start, start + len(data), xxh3_128(data)))
            start += len(data)
    meta = PackageMeta(name="bad", version="1", release=1).to_records()
    return [
        Payload(PayloadKind.META, b"".join(encode_meta_record(r) for r in meta), len(meta)),
        Payload(PayloadKind.LAYOUT, b"".join(encode_layout_entry(e) for e in layout), len(layout)),
        Payload(PayloadKind.INDEX, b"".join(encode_index_entry(e) for e in index), len(index)),
        Payload(PayloadKind.CONTENT, b"".join(files) if content is None else content, 0),
    ]


GOOD_FILES = [b"#!/bin/sh\necho hello\n", b"hello docs\n" * 50]
GOOD_LAYOUT = [regular("bin/hello", GOOD_FILES[0], 0o100755), regular("share/doc", GOOD_FILES[1])]


def good() -> list[Payload]:
    return package_payloads(GOOD_LAYOUT, GOOD_FILES)


# --- the check every case makes ----------------------------------------------------


def tree_state(root: Path) -> list[tuple[str, bytes]]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            data = b"" if path.is_dir() else path.read_bytes()
            out.append((path.relative_to(root).as_posix(), data))
    return sorted(out)


def assert_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: bytes, *expected: str
) -> str:
    package = tmp_path / "bad.stone"
    package.write_bytes(data)
    dest = tmp_path / "dest"
    (dest / "usr" / "bin").mkdir(parents=True)
    (dest / "usr" / "bin" / "existing").write_text("untouched")
    before = tree_state(tmp_path)
    status = main(["extract", str(package), "-C", str(dest)])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("moss: error: ")
    assert len(err.strip().splitlines()) == 1, err
    assert "Traceback" not in err
    assert str(package) in err
    for text in expected:
        assert text in err, err
    assert tree_state(tmp_path) == before
    return err


def test_the_crafted_good_package_extracts(tmp_path: Path) -> None:
    """The baseline: without a defect, the crafter makes a package that works."""
    package = tmp_path / "good.stone"
    package.write_bytes(stone(good()))
    assert main(["extract", str(package), "-C", str(tmp_path / "x")]) == 0
    assert (tmp_path / "x" / "usr" / "share" / "doc").read_bytes() == GOOD_FILES[1]
    assert os.access(tmp_path / "x" / "usr" / "bin" / "hello", os.X_OK)


# --- the file and payload headers --------------------------------------------------


def test_truncated_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = stone(good())
    assert_refused(tmp_path, capsys, data[: len(data) - 7], "payload 3 (Content)", "truncated")


def test_truncated_inside_the_file_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_refused(tmp_path, capsys, stone(good())[:20], "truncated file header")


def test_truncated_inside_a_payload_header(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_refused(tmp_path, capsys, stone(good())[:40], "payload 0", "truncated payload header")


def test_wrong_magic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = b"\0zip" + stone(good())[4:]
    assert_refused(tmp_path, capsys, data, "not a .stone file")


def test_wrong_version(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = stone(good())
    data = data[:28] + (2).to_bytes(4, "big") + data[32:]
    assert_refused(tmp_path, capsys, data, "unsupported format version 2")


def test_not_a_package(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = stone(good(), FileType.REPOSITORY)
    assert_refused(tmp_path, capsys, data, "not a package")


def test_checksum_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payloads = good()
    payloads[1].checksum = 0x1234
    assert_refused(tmp_path, capsys, stone(payloads), "payload 1 (Layout)", "checksum mismatch")


def test_content_checksum_mismatch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payloads = good()
    payloads[3].checksum = 0x1234
    assert_refused(tmp_path, capsys, stone(payloads), "payload 3 (Content)", "checksum mismatch")


def test_plain_size_larger_than_the_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = good()
    payloads[3].plain_size = len(b"".join(GOOD_FILES)) + 100
    assert_refused(tmp_path, capsys, stone(payloads), "payload 3 (Content)", "does not match")


def test_plain_size_smaller_than_the_truth(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = good()
    payloads[1].plain_size = 10
    assert_refused(tmp_path, capsys, stone(payloads), "payload 1 (Layout)", "past its declared")


def test_zstd_bomb_past_the_declared_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """64 MiB of zeros squeezed into a few KiB, declared as the 571 real bytes."""
    payloads = good()
    real = b"".join(GOOD_FILES)
    bomb = zstandard.ZstdCompressor(level=3).compress(real + bytes(64 << 20))
    assert len(bomb) < 10_000
    payloads[3] = Payload(PayloadKind.CONTENT, real, 0, body=bomb)
    assert_refused(tmp_path, capsys, stone(payloads), "payload 3 (Content)", "past its declared")


def test_plain_size_past_the_hard_cap(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payloads = good()
    payloads[1].plain_size = 1 << 40  # a layout that would need a terabyte of memory
    assert_refused(tmp_path, capsys, stone(payloads), "payload 1", "past the limit")


def test_a_second_layout_payload(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    payloads = good()
    payloads.insert(2, payloads[1])
    assert_refused(tmp_path, capsys, stone(payloads), "more than one Layout payload")


# --- records -----------------------------------------------------------------------


def test_layout_record_length_past_the_payload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = good()
    plain = bytearray(payloads[1].plain)
    plain[16:18] = (60000).to_bytes(2, "big")  # the first record's source length
    payloads[1].plain = bytes(plain)
    assert_refused(tmp_path, capsys, stone(payloads), "Layout), record 0", "past the end")


def test_meta_record_length_past_the_payload(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = good()
    plain = bytearray(payloads[0].plain)
    plain[0:4] = (1 << 31).to_bytes(4, "big")
    payloads[0].plain = bytes(plain)
    assert_refused(tmp_path, capsys, stone(payloads), "Meta), record 0", "past the end")


def test_more_records_claimed_than_present(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = good()
    payloads[1].records = 3
    assert_refused(tmp_path, capsys, stone(payloads), "Layout), record 2", "past the end")


@pytest.mark.parametrize(
    ("target", "complaint"),
    [
        ("/etc/passwd", "is absolute"),
        ("../../etc/passwd", "contains '..'"),
        ("share/../../etc/passwd", "contains '..'"),
        ("bin/he\0llo", "NUL"),
        ("", "empty target"),
        ("bin/./hello2", "'.' component"),
        ("bin//hello2", "empty or '.' component"),
    ],
)
def test_bad_layout_target(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str, complaint: str
) -> None:
    layout = [GOOD_LAYOUT[0], regular(target, GOOD_FILES[1])]
    err = assert_refused(
        tmp_path, capsys, stone(package_payloads(layout, GOOD_FILES)), "record 1", complaint
    )
    assert "Layout" in err


def test_index_record_outside_the_content(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    size = len(b"".join(GOOD_FILES))
    index = [
        IndexEntry(0, len(GOOD_FILES[0]), xxh3_128(GOOD_FILES[0])),
        IndexEntry(len(GOOD_FILES[0]), size + 4096, xxh3_128(GOOD_FILES[1])),
    ]
    data = stone(package_payloads(GOOD_LAYOUT, GOOD_FILES, index=index))
    assert_refused(tmp_path, capsys, data, "index entry 1", "outside the content")


def test_overlapping_index_records(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index = [
        IndexEntry(0, len(GOOD_FILES[0]), xxh3_128(GOOD_FILES[0])),
        IndexEntry(3, 3 + len(GOOD_FILES[1]), xxh3_128(GOOD_FILES[1])),
    ]
    content = GOOD_FILES[0] + GOOD_FILES[1]
    data = stone(package_payloads(GOOD_LAYOUT, GOOD_FILES, index=index, content=content))
    assert_refused(tmp_path, capsys, data, "index entry 1", "overlaps")


def test_digest_that_does_not_match_its_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The second file is damaged after the first was already unpacked."""
    damaged = GOOD_FILES[1][:-1] + b"!"
    content = GOOD_FILES[0] + damaged
    data = stone(package_payloads(GOOD_LAYOUT, GOOD_FILES, content=content))
    digest = f"{xxh3_128(GOOD_FILES[1]):032x}"
    assert_refused(tmp_path, capsys, data, "Content", digest, "does not match its digest")


def test_layout_digest_missing_from_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = [*GOOD_LAYOUT, regular("bin/ghost", b"not in the content")]
    data = stone(package_payloads(layout, GOOD_FILES))
    assert_refused(tmp_path, capsys, data, "record 2", "bin/ghost", "not in the package's index")


# --- symlinks that would let a later entry escape ----------------------------------


@pytest.mark.parametrize(
    ("link", "points_to", "through"),
    [
        ("lib", "/etc", "lib/passwd"),
        ("a", "..", "a/escaped"),
        ("share/x", "../../..", "share/x/y/z"),
    ],
)
def test_entry_written_through_a_planted_symlink(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], link: str, points_to: str, through: str
) -> None:
    layout = [*GOOD_LAYOUT, symlink(link, points_to), regular(through, GOOD_FILES[0])]
    data = stone(package_payloads(layout, GOOD_FILES))
    assert_refused(tmp_path, capsys, data, "record 3", "through the symlink", repr(link))


def test_symlink_planted_after_the_entry_below_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = [regular("lib/passwd", GOOD_FILES[0]), symlink("lib", "/etc"), GOOD_LAYOUT[1]]
    data = stone(package_payloads(layout, GOOD_FILES))
    assert_refused(tmp_path, capsys, data, "record 0", "through the symlink")


def test_same_path_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = [*GOOD_LAYOUT, symlink("bin/hello", "/bin/sh")]
    data = stone(package_payloads(layout, GOOD_FILES))
    assert_refused(tmp_path, capsys, data, "record 2", "appears twice")


def test_a_file_used_as_a_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    layout = [*GOOD_LAYOUT, regular("bin/hello/inside", GOOD_FILES[0])]
    data = stone(package_payloads(layout, GOOD_FILES))
    assert_refused(tmp_path, capsys, data, "record 2", "is not a directory")


def test_a_bad_package_among_good_ones_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good_package = tmp_path / "good.stone"
    good_package.write_bytes(stone(good()))
    bad = tmp_path / "bad.stone"
    payloads = good()
    payloads[3].checksum = 1
    bad.write_bytes(stone(payloads))
    dest = tmp_path / "dest"
    assert main(["extract", str(good_package), str(bad), "-C", str(dest)]) == 1
    assert "bad.stone" in capsys.readouterr().err
    assert not dest.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.stone", "good.stone"]


def test_inspect_reports_bad_files_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    payloads = good()
    payloads[1].checksum = 7
    bad = tmp_path / "bad.stone"
    bad.write_bytes(stone(payloads))
    assert main(["inspect", str(bad)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "payload 1 (Layout): checksum mismatch" in err


@pytest.mark.parametrize("which", [0, 1, 2, 3])
@pytest.mark.parametrize("damage", ["garbage", "cut short"])
def test_broken_zstd_frame_with_a_matching_checksum(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], which: int, damage: str
) -> None:
    """Someone who recomputes the checksum still cannot get a broken frame through."""
    payloads = good()
    stored = zstandard.compress(payloads[which].plain or b"x")
    payloads[which].body = bytes(64) if damage == "garbage" else stored[: len(stored) // 2]
    kind = payloads[which].kind.name.title()
    assert_refused(tmp_path, capsys, stone(payloads), f"payload {which} ({kind})")


# --- cleanup -------------------------------------------------------------------------


def test_a_failure_deep_in_a_tree_leaves_no_staging_behind(tmp_path: Path) -> None:
    """Directories nested as deep as a layout may go, then a damaged file.

    The staging in the destination must still go (a recursive removal once gave
    up on deep trees and left ``.moss-extract-*``).  Deeper than MAX_DEPTH is
    refused as the layout is read, before anything is written: see
    tests/states/test_hostile_trees.py.
    """
    deep = "/".join(["d"] * (MAX_DEPTH - 1)) + "/file"
    layout = [*GOOD_LAYOUT, regular(deep, GOOD_FILES[0])]
    damaged = GOOD_FILES[0] + GOOD_FILES[1][:-1] + b"!"
    package = tmp_path / "deep.stone"
    package.write_bytes(stone(package_payloads(layout, GOOD_FILES, content=damaged)))
    dest = tmp_path / "dest"
    dest.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "moss", "extract", "-C", str(dest), str(package)],
        capture_output=True, text=True, check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("moss: error: ")
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "does not match its digest" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deep.stone", "dest"]
    assert list(dest.iterdir()) == []
