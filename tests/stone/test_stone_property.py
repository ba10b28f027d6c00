"""Property tests: any tree survives pack and extract; any flipped byte is caught."""

from __future__ import annotations

import tempfile
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss.core.errors import MossError
from moss.stone import Dependency, FileKind, PackageMeta, open_stone
from moss.stonetools.extract import extract_packages
from moss.stonetools.pack import pack_tree
from tests.support.packages import Snapshot, tree_snapshot

NAMES = st.text(alphabet="abcxyz-_.é", min_size=1, max_size=6).filter(
    lambda n: n not in (".", "..")
)
FILE = st.tuples(
    st.just("file"),
    st.sampled_from([0o644, 0o755, 0o600, 0o444]),
    st.one_of(st.binary(max_size=300), st.sampled_from([b"", b"same content\n"])),
)
LINK = st.tuples(st.just("link"), st.just(0), st.sampled_from(["x", "../a", "/usr/bin/sh"]))
TREE = st.recursive(
    st.one_of(FILE, LINK),
    lambda children: st.dictionaries(NAMES, children, max_size=4),
    max_leaves=12,
)


def materialize(root: Path, spec: dict[str, Any]) -> None:
    for name, node in spec.items():
        path = root / name
        if isinstance(node, dict):
            path.mkdir()
            materialize(path, node)
        elif node[0] == "file":
            path.write_bytes(node[2])
            path.chmod(node[1])
        else:
            path.symlink_to(node[2])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.dictionaries(NAMES, TREE, max_size=5))
def test_any_tree_packs_and_reads_back_the_same(spec: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        tree.mkdir()
        materialize(tree, spec)
        package = pack_tree(tree, PackageMeta("p", "1", 1), Path(tmp) / "p.stone")
        expected = tree_snapshot(tree)
        with open_stone(package) as reader:
            layout = reader.layout()
            stored = {e.digest: b"".join(c) for e, c in reader.iter_content()}
        for entry in layout:
            kind, _mode, value = expected[entry.target]
            if entry.file_kind is FileKind.REGULAR:
                assert (kind, stored[entry.digest]) == ("file", value)
            elif entry.file_kind is FileKind.SYMLINK:
                assert (kind, entry.source) == ("link", value)
        files = {t for t, v in expected.items() if v[0] != "dir"}
        assert files <= {e.target for e in layout}
        extract_packages([package], Path(tmp) / "out")
        assert tree_snapshot(Path(tmp) / "out" / "usr") == expected


def _sample_tree(root: Path) -> None:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "tool").write_bytes(b"#!/bin/sh\necho tool\n" * 20)
    (root / "bin" / "tool").chmod(0o755)
    (root / "bin" / "alias").symlink_to("tool")
    (root / "share" / "empty-dir").mkdir(parents=True)
    (root / "share" / "data").write_bytes(bytes(range(256)) * 8)
    (root / "share" / "copy").write_bytes(bytes(range(256)) * 8)
    (root / "share" / "nothing").write_bytes(b"")


@cache
def _sample() -> tuple[bytes, Snapshot]:
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        _sample_tree(tree)
        meta = PackageMeta("sample", "1", 1, licenses=["MIT"])
        package = pack_tree(tree, meta, Path(tmp) / "s.stone")
        return package.read_bytes(), tree_snapshot(tree)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_any_single_byte_corruption_is_caught_or_harmless(data: st.DataObject) -> None:
    package, expected = _sample()
    position = data.draw(st.integers(0, len(package) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    damaged = bytearray(package)
    damaged[position] ^= flip
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "damaged.stone"
        path.write_bytes(bytes(damaged))
        dest = Path(tmp) / "out"
        try:
            extract_packages([path], dest)
        except MossError:
            assert not dest.exists()
            return
        assert tree_snapshot(dest / "usr") == expected, (
            f"byte {position} ^ {flip:#x} went unnoticed")


def test_every_header_byte_flip_is_caught_or_harmless() -> None:
    """The fixed-size headers exhaustively, since they are where lies hide."""
    package, expected = _sample()
    with tempfile.TemporaryDirectory() as tmp:
        offsets = list(range(32))
        header_at = 32
        while header_at < len(package):
            offsets += range(header_at, header_at + 32)
            header_at += 32 + int.from_bytes(package[header_at : header_at + 8], "big")
        assert len(offsets) == 32 + 4 * 32
        for position in offsets:
            damaged = bytearray(package)
            damaged[position] ^= 0x01
            path = Path(tmp) / f"d{position}.stone"
            path.write_bytes(bytes(damaged))
            dest = Path(tmp) / f"out{position}"
            try:
                extract_packages([path], dest)
            except MossError:
                assert not dest.exists()
                continue
            assert tree_snapshot(dest / "usr") == expected, f"byte {position} went unnoticed"


@pytest.mark.parametrize("text", ["soname(libc.so.6(x86_64))", "pkgconfig(zlib)", "bash"])
def test_dependency_text_round_trips(text: str) -> None:
    assert str(Dependency.parse(text)) == text


@pytest.mark.parametrize("junk", ["", "two words", "nope(x)", "half(open", "a(b)c"])
def test_dependency_junk_is_refused(junk: str) -> None:
    with pytest.raises(ValueError):
        Dependency.parse(junk)
