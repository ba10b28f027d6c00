"""What the progress line and the plan say is true (issue 25, item 10).

- a download's bar never goes below zero, even when a server ignores ``Range``
  after a ``.part`` left by an earlier run (a tester saw ``-8060928 B`` and
  ``-1:… left``);
- unpacking counts bytes, so one big package moves instead of sitting at ``0/1``;
- nothing to count draws no ``0/0`` bar, and the two kinds of triggers get a bar each,
  by name;
- plans and bars use one unit system (binary: ``MiB``), and the plan says how much
  disk the transaction takes.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.core.progress import Progress
from moss.repo.fetch import FetchOptions, download, part_path
from tests.actions.test_install_triggers import shell_package, trigger_package
from tests.repo.test_repo_httpserver import Behaviour, Site, site
from tests.support.packages import make_package
from tests.support.terminal import run_on_terminal
from tests.triggers.test_triggers_run import _REASON

__all__ = ["site"]

DATA = os.urandom(300_000)
MOSS = [sys.executable, "-m", "moss"]


def bars(shown: str, label: str) -> list[str]:
    """Every drawing of the bars whose label starts with ``label``."""
    return [line for line in re.split(r"[\r\n]", shown.replace("\x1b[K", ""))
            if line.startswith(label)]


@pytest.mark.parametrize("kept", [0, 1, 150_000, 299_999])
@pytest.mark.parametrize("ignore_range", [False, True])
def test_a_download_counts_up_from_what_is_on_disk(site: Site, tmp_path: Path, kept: int,
                                                   ignore_range: bool) -> None:
    site.files["/pkg.stone"] = DATA
    site.behaviour["/pkg.stone"] = Behaviour(ignore_range=ignore_range, truncate_times=1)
    dest = tmp_path / "pkg.stone"
    if kept:
        part_path(dest).write_bytes(DATA[:kept])  # from an earlier, interrupted run
    seen: list[int] = []
    download(site.url("pkg.stone"), dest, sha256=hashlib.sha256(DATA).hexdigest(),
             size=len(DATA), options=FetchOptions(timeout=2, retries=3, backoff=0.01),
             on_bytes=lambda n: seen.append((seen[-1] if seen else 0) + n))
    assert dest.read_bytes() == DATA
    assert min(seen) >= 0, seen[:5]
    assert seen[-1] == len(DATA)


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 10**9), st.lists(st.integers(-10**9, 10**9), max_size=8),
       st.sampled_from(["B", "files"]), st.integers(20, 120), st.floats(0, 1e5))
def test_a_bar_shows_no_count_out_of_range(total: int, steps: list[int], unit: str,
                                           width: int, elapsed: float) -> None:
    out = io.StringIO()
    progress = Progress(enabled=True, stream=out)
    progress.start("Working", total, unit)
    for step in steps:
        progress.advance(step)
    line = progress.render(width, elapsed)
    progress.done()
    if total == 0:
        assert out.getvalue() == "", "a 0/0 bar"
        return
    assert len(line) <= width
    assert not re.search(r"(^|[ /\[])-\d", line) and "-1:" not in line, line


def test_one_big_package_unpacks_in_bytes_and_the_plan_says_mib(tmp_path: Path) -> None:
    pkg = make_package(tmp_path, "big", {"share/big/blob": os.urandom(3 << 20)})
    shown = run_on_terminal([*MOSS, "-y", "-D", str(tmp_path / "root"), "install", str(pkg)])
    unpacking = bars(shown, "Unpacking")
    assert unpacking and all("packages" not in b for b in unpacking), unpacking
    assert unpacking[-1].endswith("3.0 MiB/3.0 MiB"), unpacking
    plan = shown.split("\n\r", 1)[0]
    assert "  disk     +6.0 MiB" in plan.splitlines(), plan  # the store's blob and the cache
    assert "KiB" not in plan and not bars(shown, "0/0")
    assert "0/0" not in shown


@pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
def test_each_kind_of_trigger_has_one_bar_by_name(tmp_path: Path) -> None:
    root = tmp_path / "root"
    shown = run_on_terminal([*MOSS, "-y", "-D", str(root), "install",
                             str(shell_package(tmp_path)),
                             str(trigger_package(tmp_path, "stamp", "echo x > /usr/share/s"))])
    ends = [b for b in shown.replace("\x1b[K", "").split("\n") if "triggers [" in b]
    assert [e.rsplit("\r", 1)[-1].split(" [")[0] for e in ends] == [
        "Running transaction triggers"], shown
    assert "Running triggers" not in shown and "0/0" not in shown
