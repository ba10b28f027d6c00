"""Ctrl-C while a large package unpacks, and the orphaned blobs it can leave.

A tester's Ctrl-C during a 40 000-file unpack took up to 97 s to exit, printed
nothing, and left thousands of blobs in the store that no package names, which
``state verify`` did not see.  Here: the interrupt ends moss within two seconds
with one line, ``/usr`` is the old state, verify reports the orphans, and
``state prune`` / ``cache prune`` delete them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moss.core.faults import ENV
from tests.support.interrupt import sigint_default
from tests.support.packages import make_package, tree_snapshot

FILES = 20_000


def moss(root: Path, *args: str, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                           *args], capture_output=True, text=True, timeout=300, env=env)


def orphans(root: Path) -> list[str]:
    proc = moss(root, "state", "verify", "--json")
    report = json.loads(proc.stdout)
    assert proc.returncode == 0 and report["problems"] == [], proc.stdout
    found: list[str] = report["orphans"]
    return found


def interrupt_when(root: Path, package: Path, ready: str) -> tuple[int, float, str]:
    """Start an install, send SIGINT once ``ready`` holds; (status, seconds to exit, stderr)."""
    store, incoming = root / ".moss/assets/v2", root / ".moss/assets/incoming"
    fanout = len(os.listdir(store))
    proc = subprocess.Popen([sys.executable, "-m", "moss", "-D", str(root), "-y", "install",
                             str(package)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, preexec_fn=sigint_default)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        if ready == "scratch":
            batches = list(incoming.glob("batch-*")) if incoming.is_dir() else []
            if batches and len(os.listdir(batches[0])) > FILES // 4:
                break
        elif len(os.listdir(store)) > fanout + 32:  # blobs are entering the store
            break
        time.sleep(0.01)
    assert proc.poll() is None, "the install ended before it could be interrupted"
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    return proc.returncode, time.monotonic() - sent, err


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("big")
    return make_package(work, "big", {f"share/big/{i % 97}/f{i}": f"file {i}\n"
                                      for i in range(FILES)})


def test_ctrl_c_during_unpack(tmp_path: Path, big: Path) -> None:
    root = tmp_path / "root"
    small = make_package(tmp_path, "small", {"bin/small": "small\n"})
    assert moss(root, "install", str(small)).returncode == 0
    before = tree_snapshot(root / "usr")
    for ready in ("scratch", "store"):
        status, seconds, err = interrupt_when(root, big, ready)
        assert status == 130, (ready, status, err)
        assert seconds < 2.0, (ready, seconds)
        assert len(err.strip().splitlines()) == 1, err
        assert tree_snapshot(root / "usr") == before
    left = orphans(root)
    assert left, "blobs stored before the interrupt are reported as orphans"
    pruned = moss(root, "state", "prune")
    assert pruned.returncode == 0, pruned.stderr
    assert orphans(root) == []
    assert tree_snapshot(root / "usr") == before
    assert moss(root, "install", str(big)).returncode == 0
    assert (root / "usr/share/big/3/f3").read_text() == "file 3\n"


def test_cache_prune_removes_orphans(tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = make_package(tmp_path, "first", {"bin/first": "first\n"})
    second = make_package(tmp_path, "second", {f"share/s/{i}": f"s {i}\n" for i in range(50)})
    assert moss(root, "install", str(first)).returncode == 0
    killed = moss(root, "install", str(second), env={**os.environ, ENV: "unpack:blobs-stored"})
    assert killed.returncode == -signal.SIGKILL
    assert len(orphans(root)) == 50
    shown = moss(root, "state", "verify")
    assert "50 orphaned blobs" in shown.stdout and shown.returncode == 0
    pruned = moss(root, "cache", "prune")
    # The package's copy for the cache is made before the one syncfs that makes it and
    # the blobs durable, and named after it: the kill left it unnamed, and it goes too.
    assert pruned.returncode == 0, pruned.stdout
    assert "51 files: 1 downloaded, 50 store blobs" in pruned.stdout, pruned.stdout
    assert "51 files removed" in pruned.stdout, pruned.stdout
    assert orphans(root) == []
    assert moss(root, "cache", "prune").stdout.strip() == "No files to remove"
    assert (root / "usr/bin/first").read_text() == "first\n"
    assert moss(root, "install", str(second)).returncode == 0
