"""``moss pack`` of a large tree shows progress on a terminal (hashing, then compressing)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.packages import make_tree
from tests.support.terminal import run_on_terminal


def test_pack_shows_progress_on_a_terminal_only(tmp_path: Path) -> None:
    tree = make_tree(tmp_path / "tree", {f"share/d/f{i}": f"file {i}\n" for i in range(300)})
    pack = [sys.executable, "-m", "moss", "pack", str(tree), "--name", "big", "--version", "1",
            "--release", "1"]
    shown = run_on_terminal([*pack, "-o", str(tmp_path / "tty.stone")])
    assert "Hashing [####" in shown and "Compressing [####" in shown
    assert "300/300 files" in shown
    piped = subprocess.run([*pack, "-o", str(tmp_path / "pipe.stone")], capture_output=True,
                           text=True, check=True)
    assert "Compressing" not in piped.stdout + piped.stderr
    assert (tmp_path / "tty.stone").read_bytes() == (tmp_path / "pipe.stone").read_bytes()
