"""Progress shows on a terminal and stays out of scripts' output."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys
from pathlib import Path

from moss.core.progress import Progress
from tests.support.packages import make_package
from tests.support.terminal import run_on_terminal


def files(n: int) -> dict[str, str]:
    return {f"share/data/f{i}": f"file {i}\n" for i in range(n)}


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


def test_progress_fits_a_narrow_terminal_and_names_its_units(tmp_path: Path) -> None:
    pkg = make_package(tmp_path, "data", files(400))
    shown = run_on_terminal(
        [sys.executable, "-m", "moss", "-y", "-D", str(tmp_path / "root"), "install", str(pkg)],
        columns=60,
    )
    lines = re.split(r"[\r\n]", re.sub(r"\x1b\[K", "", shown))
    too_wide = [line for line in lines if len(line) > 60]
    assert not too_wide, too_wide
    assert "entries" in shown and "Blitting" in shown


def test_a_failure_is_shown_as_a_failure_not_a_full_bar() -> None:
    out = io.StringIO()
    progress = Progress(enabled=True, stream=out)
    with contextlib.suppress(RuntimeError):
        try:
            progress.start("Fetching 3 packages", 3 << 20, "B")
            progress.advance(1 << 20)
            raise RuntimeError("connection failed")
        finally:
            progress.done()
    last = out.getvalue().split("\r")[-1].replace("\x1b[K", "")
    assert last.rstrip("\n").endswith("failed")
    assert "1.0 MiB/3.0 MiB" in last and "#" * 30 not in last
    finished = io.StringIO()
    progress = Progress(enabled=True, stream=finished)
    progress.start("Unpacking", 4, "files")
    progress.advance(2)
    progress.done()
    assert "4/4 files" in finished.getvalue().split("\r")[-1]


def test_the_line_shrinks_before_it_wraps() -> None:
    progress = Progress(enabled=True, stream=io.StringIO())
    progress.start("Copying kernels to the EFI system partition", 10_000, "files")
    progress.current = 5_000
    for width in (30, 40, 60, 100):
        line = progress.render(width, elapsed=10.0)
        assert len(line) <= width, (width, line)
    assert "left" in progress.render(120, elapsed=10.0)
    assert "files/s" in progress.render(120, elapsed=10.0)
