"""moss pack then moss extract gives back the tree: bytes, modes, symlinks, empties."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moss.cli import main
from moss.stone import (
    Dependency,
    DependencyKind,
    FileKind,
    PayloadKind,
    open_stone,
    xxh3_128,
)
from tests.support.packages import tree_snapshot

HELLO = b"#!/bin/sh\necho hello\n"


def make_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "hello").write_bytes(HELLO)
    (root / "bin" / "hello").chmod(0o755)
    (root / "bin" / "hi").symlink_to("hello")
    (root / "share" / "doc" / "hello").mkdir(parents=True)
    (root / "share" / "doc" / "hello" / "README").write_text("Say hello.\n")
    (root / "share" / "doc" / "hello" / "COPY").write_text("Say hello.\n")  # a duplicate
    (root / "share" / "hello").mkdir()
    (root / "share" / "hello" / "empty").write_bytes(b"")
    (root / "share" / "hello" / "secret").write_bytes(os.urandom(3000))
    (root / "share" / "hello" / "secret").chmod(0o600)
    (root / "lib" / "hello" / "plugins").mkdir(parents=True)  # empty directories
    (root / "lib" / "private").mkdir(mode=0o700)
    (root / "lib" / "private").chmod(0o700)
    (root / "lib" / "private" / "key").write_text("k")
    (root / "lib" / "dangling").symlink_to("/nonexistent/target")
    return root


def pack(tree: Path, out: Path, *extra: str) -> int:
    meta = ["--name", "hello", "--version", "1.0", "--release", "3"]
    return main(["pack", str(tree), "-o", str(out), *meta, *extra])


def test_pack_then_extract_gives_the_same_tree(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    out = tmp_path / "hello.stone"
    assert pack(tree, out) == 0
    assert main(["extract", str(out), "-C", str(tmp_path / "x")]) == 0
    assert tree_snapshot(tmp_path / "x" / "usr") == tree_snapshot(tree)


def test_identical_files_are_stored_once(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree")
    out = tmp_path / "hello.stone"
    assert pack(tree, out) == 0
    with open_stone(out) as reader:
        layout = reader.layout()
        index = reader.index()
        kinds = [h.kind for h in reader.payload_headers()]
    regular = [e for e in layout if e.file_kind is FileKind.REGULAR]
    assert len(regular) == 6
    assert len(index) == 5  # README and COPY share one content
    assert len({e.digest for e in index}) == 5
    assert kinds == [PayloadKind.META, PayloadKind.LAYOUT, PayloadKind.INDEX, PayloadKind.CONTENT]
    by_target = {e.target: e for e in layout}
    assert by_target["bin/hello"].mode == 0o100755
    assert by_target["bin/hello"].digest == xxh3_128(HELLO)
    assert by_target["bin/hi"].source == "hello"
    # Directory records only where they carry something: empty, or not 0755.
    dirs = {e.target for e in layout if e.file_kind is FileKind.DIRECTORY}
    assert dirs == {"lib/hello/plugins", "lib/private"}


def test_pack_writes_the_meta_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tree = make_tree(tmp_path / "tree")
    out = tmp_path / "hello.stone"
    status = pack(
        tree,
        out,
        "--summary=Says hello",
        "--license=MIT",
        "--license=Apache-2.0",
        "--depends=soname(libc.so.6(x86_64))",
        "--depends=greeting-lib",
        "--provides=binary(hello)",
        "--conflicts=goodbye",
        "--build-release=2",
        "--architecture=aarch64",
        "--no-auto-deps",  # the meta given, alone (tests/stonetools/test_autodeps.py: derived)
    )
    assert status == 0
    with open_stone(out) as reader:
        meta = reader.package_meta()
    assert meta.id == "hello-1.0-3-2.aarch64"
    assert meta.summary == "Says hello"
    assert meta.licenses == ["MIT", "Apache-2.0"]
    assert meta.depends == [
        Dependency(DependencyKind.SONAME, "libc.so.6(x86_64)"),
        Dependency(DependencyKind.PACKAGE_NAME, "greeting-lib"),
    ]
    assert [str(p) for p in meta.provides] == ["binary(hello)"]
    assert [str(c) for c in meta.conflicts] == ["goodbye"]

    capsys.readouterr()
    assert main(["inspect", "--json", str(out)]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["meta"]["depends"] == ["soname(libc.so.6(x86_64))", "greeting-lib"]
    layout = {e["target"]: e for e in shown["layout"]}
    assert layout["/usr/bin/hello"]["mode"] == "100755"
    assert layout["/usr/bin/hello"]["digest"] == format(xxh3_128(HELLO), "032x")
    assert layout["/usr/bin/hi"]["link"] == "hello"
    assert [p["kind"] for p in shown["payloads"]] == ["meta", "layout", "index", "content"]

    assert main(["inspect", str(out)]) == 0
    text = capsys.readouterr().out
    assert "Name            : hello" in text
    assert "    - soname(libc.so.6(x86_64))" in text
    assert "/usr/bin/hi -> hello [Symlink]" in text


def test_pack_refuses_a_junk_dependency(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = make_tree(tmp_path / "tree")
    out = tmp_path / "hello.stone"
    assert pack(tree, out, "--depends=bogus(x)") == 1
    err = capsys.readouterr().err
    assert "unknown dependency kind 'bogus'" in err
    assert not out.exists()


def test_extract_merges_packages_into_one_usr(tmp_path: Path) -> None:
    a = tmp_path / "a"
    (a / "bin").mkdir(parents=True)
    (a / "bin" / "one").write_text("1")
    b = tmp_path / "b"
    (b / "bin").mkdir(parents=True)
    (b / "bin" / "two").write_text("2")
    assert pack(a, tmp_path / "a.stone") == 0
    assert pack(b, tmp_path / "b.stone") == 0
    dest = tmp_path / "x"
    packages = [str(tmp_path / "a.stone"), str(tmp_path / "b.stone")]
    assert main(["extract", *packages, "-C", str(dest)]) == 0
    assert sorted(p.name for p in (dest / "usr" / "bin").iterdir()) == ["one", "two"]
    assert [p.name for p in dest.iterdir()] == ["usr"]  # no staging left behind
