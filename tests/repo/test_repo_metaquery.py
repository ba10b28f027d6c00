"""``search``, ``info`` and ``list available`` from the repositories' meta databases.

Real stones and packed ones, indexed by ``moss index``, served over HTTP and
fetched by ``moss repo update`` into three repositories (priorities, releases and
a tie that ranking must settle; one package installed).  Every query runs through
the CLI twice: answered from the meta databases, then from the parsed indexes
once the databases no longer match them; stdout must be the same, byte for byte.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from moss.stonetools.index import build_index
from tests.db import realmoss
from tests.repo.test_repo_endtoend import make_package, serve_directory
from tests.repo.test_repo_httpserver import Site, site

__all__ = ["site"]


QUERIES: list[list[str]] = [
    ["list", "available"], ["list", "available", "--json"],
    ["search", "pi"], ["search", "pi", "--json"], ["search", "bash"], ["search", "-i", "bash"],
    ["search", "-p", "cmake", "bash-completion"], ["search", "-p", "name", "pineapple"],
    ["search", "-p", "library", "libgreet.so.1(x86_64)", "--json"],
    ["info", "pineapple"], ["info", "pineapple", "--json"], ["info", "bash-completion"],
    ["info", "cmake(bash-completion)"], ["info", "binary(greet)", "italian-pizza", "--json"],
    ["info", "soname(libgreet.so.1(x86_64))"], ["info", "no-such-thing"],
]


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def _serve(site: Site, folder: Path, name: str, stones: list[Path]) -> None:
    for stone in stones:
        shutil.copy(stone, folder / "served" / "pool")
    build_index(folder / "served")
    serve_directory(site, folder / "served", name)


@pytest.fixture
def root(site: Site, tmp_path: Path) -> Path:
    """Three served repositories fetched into a root, bash-completion installed."""
    real = {n: realmoss.STONES / f"{n}-x86_64.stone"
            for n in ("bash-completion-2.11-1-1", "pineapple-1-1-1", "italian-pizza-1-1-1")}
    main, extra, mirror = tmp_path / "main", tmp_path / "extra", tmp_path / "mirror"
    make_package(main, "greeter", [], ["binary(greet)", "soname(libgreet.so.1(x86_64))"])
    _serve(site, main, "main", list(real.values()))
    make_package(extra, "pineapple", ["italian-pizza"], ["binary(pineapple)"], release=2)
    make_package(extra, "bash-helpers", ["bash-completion"], ["cmake(bash-completion)"])
    _serve(site, extra, "extra", [])
    make_package(mirror, "libgreet", [], ["soname(libgreet.so.1(x86_64))"])
    _serve(site, mirror, "mirror", [real["bash-completion-2.11-1-1"]])
    target = tmp_path / "root"
    for name, priority in (("main", "0"), ("extra", "5"), ("mirror", "0")):
        assert moss(target, "repo", "add", "-p", priority, name,
                    site.url(f"/{name}/stone.index")).returncode == 0
    assert moss(target, "repo", "update").returncode == 0
    done = moss(target, "-y", "install", "bash-completion")
    assert done.returncode == 0, done.stderr
    return target


def _indexes(root: Path) -> list[Path]:
    found = sorted(root.glob(".moss/repo/*/stone.index"))
    assert len(found) == 3
    return found


def _answers(root: Path) -> list[tuple[int, str, str]]:
    return [(r.returncode, r.stdout, r.stderr) for r in (moss(root, *q) for q in QUERIES)]


def test_queries_answer_the_same_from_the_database_and_the_index(root: Path) -> None:
    from_db = _answers(root)
    assert from_db[0][0] == 0 and "pineapple" in from_db[0][1] and "extra" in from_db[0][1]
    assert from_db[-1][0] == 1 and from_db[-1][1] == ""
    for index in _indexes(root):  # stale: the indexes are parsed again
        stat = index.stat()
        os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert _answers(root) == from_db


def test_a_current_database_is_read_instead_of_the_index(root: Path) -> None:
    """The indexes overwritten in place (same size, mtime, inode): answers still come,
    so they came from the databases; then a real change of the index is noticed."""
    expected = _answers(root)
    saved = {}
    for index in _indexes(root):
        stat, saved[index] = index.stat(), index.read_bytes()
        with index.open("r+b") as f:
            f.write(b"\0" * stat.st_size)
        os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert _answers(root) == expected
    first = _indexes(root)[0]
    first.write_bytes(b"\0" * (len(saved[first]) + 1))
    broken = moss(root, "list", "available")
    assert broken.returncode == 1 and "not a valid repository index" in broken.stderr


def test_reading_the_database_writes_nothing_and_loads_no_zstandard(root: Path) -> None:
    folders = {p.parent: sorted(os.listdir(p.parent)) for p in _indexes(root)}
    stamps = {p: p.stat().st_mtime_ns for f in folders for p in f.iterdir()}
    for query in (["info", "pineapple"], ["search", "pi"], ["list", "available"]):
        done = subprocess.run([sys.executable, "-X", "importtime", "-m", "moss", "-D",
                               str(root), *query], capture_output=True, text=True, check=True)
        assert "zstandard" not in done.stderr
    assert {f: sorted(os.listdir(f)) for f in folders} == folders
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
