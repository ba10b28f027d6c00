"""``moss state verify --repair`` on a tree where a folder was replaced by a symlink.

Whoever damaged the tree may have pointed the link anywhere on the host; repair
must put the real folder back and never create or change anything through it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.packages import make_package, tree_snapshot


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("planted", ["share/hello", "share"])
def test_repair_replaces_a_planted_symlink_and_writes_nothing_outside(
        tmp_path: Path, planted: str) -> None:
    root = tmp_path / "root"
    pkg = make_package(tmp_path, "hello", {
        "bin/hello": "#!/bin/sh\necho hi\n",
        "share/hello/greeting": "hello\n",
        "share/hello/empty": "",
        "share/hello/link": "greeting",
    })
    assert moss(root, "install", str(pkg)).returncode == 0
    good = tree_snapshot(root / "usr")
    outside = tmp_path / "somewhere"
    outside.mkdir()
    (outside / "unrelated").write_text("the host's own file\n")
    before = tree_snapshot(outside)

    damaged = root / "usr" / planted
    subprocess.run(["rm", "-rf", str(damaged)], check=True)
    damaged.symlink_to(outside)
    found = moss(root, "state", "verify")
    assert found.returncode == 1 and planted in found.stdout + found.stderr

    proc = moss(root, "state", "verify", "--repair")
    assert tree_snapshot(outside) == before, proc.stderr
    assert tree_snapshot(root / "usr") == good
    assert moss(root, "state", "verify").returncode == 0
