"""A root with two states, built once and copied (hard links kept) for each test."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.packages import make_package


def moss_cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """moss as a user runs it: its own process, its exit status and its stderr."""
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                           *args], capture_output=True, text=True, timeout=120)


def hello(workdir: Path, release: int) -> Path:
    return make_package(workdir, "hello", {"bin/hello": f"release {release}\n",
                                           "share/a/b": "shared by every release\n",
                                           f"share/only-{release}": "x" * release},
                        release=release)


@pytest.fixture(scope="session")
def two_states(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("two-states")
    root = work / "root"
    for release in (1, 2):
        assert moss_cli(root, "install", str(hello(work, release))).returncode == 0
    make_package(work, "probe", {"share/probe": "probe\n"})
    hello(work, 3)
    return work


@pytest.fixture
def work(two_states: Path, tmp_path: Path) -> Path:
    """A private copy of the two-state root and its packages."""
    copy = tmp_path / "work"
    subprocess.run(["cp", "-a", str(two_states), str(copy)], check=True)
    return copy
