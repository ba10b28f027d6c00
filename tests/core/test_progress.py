"""Progress shows on a terminal and stays out of scripts' output."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.support.packages import make_package


def files(n: int) -> dict[str, str]:
    return {f"share/data/f{i}": f"file {i}\n" for i in range(n)}


def run_on_terminal(args: list[str]) -> str:
    """Run with stdout and stderr on a pseudo-terminal and return what it showed."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=follower, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        shown += chunk
    assert proc.wait(timeout=60) == 0, shown
    os.close(leader)
    return shown.decode(errors="replace")


def test_progress_on_a_terminal_only(tmp_path: Path) -> None:
    pkg = make_package(tmp_path, "data", files(50))
    moss = [sys.executable, "-m", "moss", "-y"]
    shown = run_on_terminal([*moss, "-D", str(tmp_path / "tty-root"), "install", str(pkg)])
    assert "Unpacking" in shown and "Blitting" in shown and "[####" in shown
    piped = subprocess.run([*moss, "-D", str(tmp_path / "pipe-root"), "install", str(pkg)],
                           capture_output=True, text=True, check=True)
    assert "Blitting" not in piped.stdout + piped.stderr
    quiet = run_on_terminal([*moss, "--quiet", "-D", str(tmp_path / "quiet-root"),
                             "install", str(pkg)])
    assert "Blitting" not in quiet
