"""``moss info NAME`` answered without dataclasses (issue 27) says what the full reader
says, and leaves anything out of the ordinary to it.

:func:`moss.actions.quickinfo.quick_info` must give :func:`moss.actions.lookup.details`
of exactly the packages :func:`moss.actions.lookup.candidates` finds (by name and by
provider, in its order), and answer None (the full reader then runs, and names what is
wrong) for a damaged database, a bad value, a NAME nothing answers or a repository to
rank offers from, so a user never sees text the full reader would not print.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from moss.actions import lookup
from moss.actions.quickinfo import quick_info
from tests.support.packages import make_package


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-y", "-D", str(root), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """hello (providing binary(hello) and soname(libhello.so.1(x86_64)), depending on
    world) and world, installed."""
    work = tmp_path_factory.mktemp("quickinfo")
    root = work / "root"
    world = make_package(work, "world", {"bin/world": "w\n"}, conflicts=("name(other)",))
    hello = make_package(work, "hello", {"bin/hello": "h\n"}, depends=("world",),
                         provides=("binary(hello)", "soname(libhello.so.1(x86_64))"))
    assert moss(root, "install", str(world), str(hello)).returncode == 0
    return root


@pytest.fixture
def root(installed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    subprocess.run(["cp", "-a", str(installed), str(copy)], check=True)
    return copy


def full(root: Path, names: list[str]) -> list[dict[str, object]]:
    return [lookup.details(c.meta) for name in names for c in lookup.candidates(root, name)]


@pytest.mark.parametrize("names", [["hello"], ["world", "hello"], ["binary(hello)"],
                                   ["soname(libhello.so.1(x86_64))", "hello"]])
def test_the_same_packages_as_the_full_reader(root: Path, names: list[str]) -> None:
    assert quick_info(root, names) == full(root, names)


def test_the_text_is_the_full_commands(root: Path) -> None:
    quick = moss(root, "info", "hello", "world")
    full_text = moss(root, "info", "-v", "hello", "world")  # -v: argparse, the full reader
    assert quick.returncode == full_text.returncode == 0
    assert quick.stdout == full_text.stdout and "binary(hello)" in quick.stdout


def test_an_unknown_name_goes_to_the_full_reader(root: Path) -> None:
    assert quick_info(root, ["hello", "nothing"]) is None
    proc = moss(root, "info", "hello", "nothing")
    assert proc.returncode == 1 and proc.stdout == "" and "nothing" in proc.stderr


def test_a_bad_value_goes_to_the_full_reader_which_names_it(root: Path) -> None:
    with closing(sqlite3.connect(root / ".moss/db/install")) as conn, conn:
        conn.execute("UPDATE meta_providers SET provider = 'junk(' WHERE provider LIKE 'bin%'")
    assert quick_info(root, ["world"]) is None
    proc = moss(root, "info", "world")
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"database {root / '.moss/db/install'}: package" in proc.stderr


@pytest.mark.parametrize("name", ["install", "state", "layout", "extras"])
def test_a_damaged_database_goes_to_the_full_reader(root: Path, name: str) -> None:
    (root / ".moss/db" / name).write_bytes(b"not a database at all" * 10)
    assert quick_info(root, ["hello"]) is None
    proc = moss(root, "info", "hello")
    assert proc.returncode == 1 and proc.stdout == ""
    assert str(root / ".moss/db" / name) in proc.stderr


def test_a_configured_repository_goes_to_the_full_reader(root: Path) -> None:
    (root / "etc/moss/repo.d").mkdir(parents=True)
    (root / "etc/moss/repo.d/main.kdl").write_text('main {\n    uri "file:///nowhere"\n}\n')
    assert quick_info(root, ["hello"]) is None
