"""Packages whose trees nothing could repair, and the special files a tree may hold.

Each hostile package is assembled by hand (the writer refuses to make one) and
installed through the CLI in a child process: one line on stderr, exit 1,
``/usr`` unchanged, and the next command works.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from moss.stone import FileKind, LayoutEntry, PackageMeta
from moss.stonetools.pack import pack_tree
from tests.stonetools.test_extract_bad import package_payloads, regular, stone
from tests.support.packages import make_package, tree_snapshot


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                           *args], capture_output=True, text=True, timeout=120)


def hostile(tmp_path: Path, layout: list[LayoutEntry], files: list[bytes]) -> Path:
    path = tmp_path / "hostile.stone"
    path.write_bytes(stone(package_payloads(layout, files)))
    return path


def installed_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    good = make_package(tmp_path, "good", {"bin/good": "#!/bin/sh\n", "share/good/a": "a"})
    assert moss(root, "install", str(good)).returncode == 0
    return root


def assert_refused_cleanly(root: Path, package: Path, *words: str) -> None:
    before = tree_snapshot(root / "usr")
    proc = moss(root, "install", str(package))
    assert proc.returncode == 1, proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for word in words:
        assert word in proc.stderr, proc.stderr
    assert tree_snapshot(root / "usr") == before
    assert not (root / ".moss/root/staging").exists()
    # The next command works, and every state on record has its tree.
    other = make_package(root.parent, "other", {"share/other": "o"})
    assert moss(root, "install", str(other)).returncode == 0
    verify = moss(root, "state", "verify")
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_a_path_990_deep_is_refused_and_nothing_is_wedged(tmp_path: Path) -> None:
    root = installed_root(tmp_path)
    deep = "/".join(["d"] * 990) + "/f"
    package = hostile(tmp_path, [regular(deep, b"x")], [b"x"])
    assert_refused_cleanly(root, package, "components deep", "limit of 128")


def test_a_component_over_255_bytes_is_a_clear_error(tmp_path: Path) -> None:
    root = installed_root(tmp_path)
    package = hostile(tmp_path, [regular("share/" + "n" * 256, b"x")], [b"x"])
    assert_refused_cleanly(root, package, "component over 255 bytes")


def test_nothing_may_be_shipped_under_state_id(tmp_path: Path) -> None:
    root = installed_root(tmp_path)
    package = hostile(tmp_path, [regular(".stateID/x", b"x")], [b"x"])
    assert_refused_cleanly(root, package, "'.stateID/x'", "state id")


def test_device_nodes_and_sockets_are_refused(tmp_path: Path) -> None:
    root = installed_root(tmp_path)
    for kind, word in [(FileKind.CHAR_DEVICE, "char device"),
                       (FileKind.BLOCK_DEVICE, "block device"), (FileKind.SOCKET, "socket")]:
        node = LayoutEntry(0, 0, 0o020644, 0, kind, "", "lib/node")
        assert_refused_cleanly(root, hostile(tmp_path, [node], []), "'lib/node'", word)


def test_a_deep_leftover_staging_tree_is_removed_without_following_links(
    tmp_path: Path,
) -> None:
    """A tree 3000 deep left by an older moss: the next command removes it."""
    root = installed_root(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_text("keep")
    fd = os.open(root / ".moss/root", os.O_RDONLY)
    for name in ["staging", "usr", *["a"] * 3000]:
        os.mkdir(name, dir_fd=fd)
        if name == "a":
            os.symlink(str(outside), "link", dir_fd=fd)
        new = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = new
    os.close(fd)
    other = make_package(tmp_path, "other", {"share/other": "o"})
    proc = moss(root, "install", str(other))
    assert proc.returncode == 0, proc.stderr
    assert not (root / ".moss/root/staging").exists()
    assert (outside / "keep").read_text() == "keep"
    assert moss(root, "state", "verify").returncode == 0


def test_a_fifo_verifies_clean_and_is_repaired(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "share/pipes").mkdir(parents=True)
    os.mkfifo(tree / "share/pipes/fifo", 0o640)
    (tree / "share/pipes/file").write_text("f")
    package = pack_tree(tree, PackageMeta(name="pipes", version="1", release=1),
                        tmp_path / "pipes.stone")
    root = tmp_path / "root"
    assert moss(root, "install", str(package)).returncode == 0
    fifo = root / "usr/share/pipes/fifo"
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and stat.S_IMODE(fifo.lstat().st_mode) == 0o640
    clean = moss(root, "state", "verify")
    assert clean.returncode == 0 and "0 problems" in clean.stdout, clean.stdout
    fifo.unlink()
    fifo.write_text("not a fifo")
    damaged = moss(root, "state", "verify")
    assert damaged.returncode == 1 and "should be a fifo" in damaged.stdout, damaged.stdout
    repaired = moss(root, "state", "verify", "--repair")
    assert repaired.returncode == 0, repaired.stdout + repaired.stderr
    assert stat.S_ISFIFO(fifo.lstat().st_mode) and stat.S_IMODE(fifo.lstat().st_mode) == 0o640
    assert "0 problems" in moss(root, "state", "verify").stdout
