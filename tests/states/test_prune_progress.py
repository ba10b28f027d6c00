"""``moss state prune`` shows progress while it deletes states and blobs, on a terminal only.

A tester's prune spent up to 90 s deleting tens of thousands of blobs with
nothing on the screen.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support.packages import make_package
from tests.support.terminal import run_on_terminal


def test_prune_shows_progress_in_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    moss = [sys.executable, "-m", "moss", "-y", "-D", str(root)]
    for r in (1, 2):
        pkg = make_package(tmp_path, "data", {f"share/d/f{i}": f"release {r} file {i}\n"
                                              for i in range(200)}, release=r)
        subprocess.run([*moss, "--quiet", "install", str(pkg)], check=True, capture_output=True)
    shown = run_on_terminal([*moss, "state", "prune", "--keep", "1"])
    assert "Removing states [####" in shown and "1/1 states" in shown
    assert "Removing unused blobs [####" in shown and "200/200 files" in shown
    assert "Removed states: 1" in shown
