"""One Ctrl-C during a download stops moss within a second or two, as apt and dnf do.

A tester's Ctrl-C waited for the download to end (23 s at 1.4 MiB/s): the transfers
ran on an executor's threads, which Python joins before it exits.  Here a local
mirror sends a package slowly; moss (``fetch`` and ``install``) is interrupted once
the download is under way, must exit 130 with one line within 2 s, and must leave no
file that looks complete; the next run resumes the ``.part`` and finishes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moss.repo.config import add_repository, load_repositories
from moss.repo.fetch import FetchOptions
from moss.repo.index import update_repository
from moss.stonetools.index import build_index
from tests.repo.test_repo_endtoend import serve_directory
from tests.repo.test_repo_httpserver import Behaviour, Site, site
from tests.support.interrupt import sigint_default
from tests.support.packages import make_package

__all__ = ["site"]

SIZE = 3 << 20  # incompressible: the .stone is about as big
RATE = 256 << 10  # bytes a second: 12 s for the whole package


@pytest.fixture
def slow_repo(site: Site, tmp_path: Path) -> tuple[Path, str]:
    served = tmp_path / "served"
    served.mkdir()
    package = make_package(served, "big", {"share/big/blob": os.urandom(SIZE)})
    build_index(served)
    serve_directory(site, served, "repo")
    path = f"/repo/{package.name}"
    site.behaviour[path] = Behaviour(rate=RATE)
    root = tmp_path / "root"
    add_repository(root, "main", site.url("repo/stone.index"))
    update_repository(root, load_repositories(root)[0],
                      options=FetchOptions(timeout=5, retries=1, backoff=0.01))
    return root, path


def downloads(root: Path) -> list[Path]:
    top = root / ".moss/cache/downloads"
    return sorted(p for p in top.rglob("*") if p.is_file()) if top.is_dir() else []


@pytest.mark.parametrize("command", ["fetch", "install"])
def test_one_ctrl_c_stops_a_download_at_once(slow_repo: tuple[Path, str], site: Site,
                                             tmp_path: Path, command: str) -> None:
    root, path = slow_repo
    out = tmp_path / "out"
    argv = [sys.executable, "-m", "moss", "-D", str(root), "-y", command, "big"]
    if command == "fetch":
        argv += ["-o", str(out)]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    deadline = time.monotonic() + 60
    while not any(p.name.endswith(".part") and p.stat().st_size > 64 << 10
                  for p in downloads(root)):
        assert proc.poll() is None and time.monotonic() < deadline, "the download never began"
        time.sleep(0.02)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    seconds = time.monotonic() - sent
    assert proc.returncode == 130, err
    assert seconds < 2.0, f"took {seconds:.1f} s to stop"
    assert len(err.strip().splitlines()) == 1 and err.startswith("moss: interrupted"), err
    left = downloads(root)
    assert left and all(p.name.endswith(".part") for p in left), left  # nothing looks complete
    part_size = left[0].stat().st_size
    assert 0 < part_size < SIZE
    assert not out.exists() or not any(out.rglob("*.stone"))
    assert not (root / "usr/share/big").exists()

    site.behaviour.pop(path)  # the mirror is fast again: the next run resumes and finishes
    again = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                           timeout=120)
    assert again.returncode == 0, again.stderr
    assert (path, f"bytes={part_size}-") in site.requests  # resumed, not started over
    assert not any(p.name.endswith(".part") for p in downloads(root))


def test_ctrl_c_while_the_mirror_is_silent(slow_repo: tuple[Path, str], site: Site) -> None:
    """A transfer blocked on a server that sends nothing cannot check anything until its
    socket times out (30 s): moss leaves it behind and exits all the same."""
    root, path = slow_repo
    site.behaviour[path] = Behaviour(stall=30)
    proc = subprocess.Popen([sys.executable, "-m", "moss", "-D", str(root), "-y", "install",
                             "big"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, preexec_fn=sigint_default)
    deadline = time.monotonic() + 60
    while not any(p == path for p, _range in site.requests):
        assert proc.poll() is None and time.monotonic() < deadline, "no request came"
        time.sleep(0.02)
    time.sleep(0.2)  # into the wait for the body
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert time.monotonic() - sent < 2.0
    assert len(err.strip().splitlines()) == 1 and err.startswith("moss: interrupted"), err
    assert not any(p.stat().st_size for p in downloads(root))  # nothing arrived, nothing kept
