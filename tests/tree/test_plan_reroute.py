"""Real moss's file-tree rules that keep real packages installable, and every escape still
refused: an entry below an in-tree directory symlink is re-routed into the directory, and
the same path shipped twice alike is a warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from moss.cli import main
from moss.stone import FileKind, LayoutEntry, open_stone, write_stone, xxh3_128
from moss.tree.plan import plan_tree
from tests.support.packages import Link, make_package


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def entry(target: str, kind: FileKind, source: bytes | str = "") -> LayoutEntry:
    mode = {FileKind.DIRECTORY: 0o40755, FileKind.SYMLINK: 0o120777}.get(kind, 0o100644)
    return LayoutEntry(0, 0, mode, 0, kind, source, target)


def test_entry_below_a_directory_symlink_lands_in_the_directory(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    base = make_package(tmp_path, "base", {"lib/libc.so.6": "libc", "lib64": Link("lib"),
                                           "lib32": Link("/usr/lib")})
    loader = make_package(tmp_path, "loader", {"lib64/ld-linux-x86-64.so.2": "ld",
                                               "lib32/deep/x.so": "x"})
    assert moss(root, "install", str(base), str(loader)) == 0
    assert (root / "usr/lib/ld-linux-x86-64.so.2").read_text() == "ld"
    assert (root / "usr/lib/deep/x.so").read_text() == "x"
    assert (root / "usr/lib64").is_symlink() and (root / "usr/lib32").is_symlink()
    assert (root / "usr/lib64/ld-linux-x86-64.so.2").read_text() == "ld"  # through the link
    verify = subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "state", "verify"],
                            capture_output=True, text=True, timeout=300)
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.parametrize("dest", ["../../etc", "/etc", "/usr/../etc", "../..", "lib64/sub",
                                  "file", "nowhere"])
def test_links_out_of_usr_or_to_no_tree_directory_stay_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], dest: str) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "etc"
    outside.mkdir()
    base = make_package(tmp_path, "base", {"lib/libc.so.6": "libc", "file": "f",
                                           "lib64": Link(dest)})
    writer = make_package(tmp_path, "writer", {"lib64/passwd": "owned"})
    assert moss(root, "install", str(base)) == 0
    capsys.readouterr()
    assert moss(root, "install", str(writer)) == 1
    err = capsys.readouterr().err
    assert "symlink" in err and "writer" in err and len(err.strip().splitlines()) == 1
    assert list(outside.iterdir()) == []
    assert (root / "usr/.stateID").read_text() == "1"


def test_same_package_link_and_entry_below_it_are_re_routed(tmp_path: Path) -> None:
    """Real packages ship ``lib64 -> lib`` and files below ``lib64`` in one layout."""
    root = tmp_path / "root"
    pkg = make_package(tmp_path, "glibc", {"lib/libc.so.6": "libc", "lib64": Link("lib")})
    with open_stone(pkg) as reader:
        meta, layout = reader.package_meta(), reader.layout()
    data = b"ld"
    layout.append(LayoutEntry(0, 0, 0o100755, 0, FileKind.REGULAR,
                              xxh3_128(data).to_bytes(16, "big"), "lib64/ld-linux-x86-64.so.2"))
    write_stone(pkg, meta, layout, {xxh3_128(data): data, xxh3_128(b"libc"): b"libc"})
    assert moss(root, "install", str(pkg)) == 0
    assert (root / "usr/lib/ld-linux-x86-64.so.2").read_bytes() == b"ld"


def test_same_path_shipped_alike_twice_is_a_warning(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    a = make_package(tmp_path, "alpha", {"share/licenses/MIT": "mit", "bin/a": "a"})
    b = make_package(tmp_path, "beta", {"share/licenses/MIT": "mit", "bin/b": "b"})
    assert moss(root, "install", str(a), str(b)) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "share/licenses/MIT" in err and "alpha" in err and "beta" in err
    assert (root / "usr/share/licenses/MIT").read_text() == "mit"


def test_a_link_into_itself_does_not_loop() -> None:
    layout = [entry("a", FileKind.SYMLINK, "a/b"), entry("a/b", FileKind.DIRECTORY),
              entry("a/b/c", FileKind.REGULAR, b"\0" * 16)]
    with pytest.raises(Exception, match="symlink"):
        plan_tree([("loop", layout)])
