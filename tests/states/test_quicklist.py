"""``moss state list`` answered without dataclasses (issue 27) says what the full reader
says, and leaves anything out of the ordinary to it.

:func:`moss.states.quicklist.quick_states` must give the rows of
:func:`moss.states.listing.list_states` exactly (marks, pending, booted, how each state
became active), and answer None (the full reader then runs, and names what is wrong)
for a damaged database, a bad value or a missing file, so a user never sees a table
the full reader would have refused.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from moss.states.listing import list_states
from moss.states.quicklist import quick_states
from tests.support.packages import make_package


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-y", "-D", str(root), *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def three_states(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """States 1 and 2 by transaction, 1 again by rollback, 3 pending (deferred)."""
    work = tmp_path_factory.mktemp("quicklist")
    root = work / "root"
    for release in (1, 2):
        pkg = make_package(work, "hello", {"bin/hello": f"{release}\n"}, release=release)
        assert moss(root, "install", str(pkg)).returncode == 0
    assert moss(root, "state", "activate", "1").returncode == 0
    pkg = make_package(work, "world", {"bin/world": "w\n"})
    assert moss(root, "install", "--defer", str(pkg)).returncode == 0
    return root


@pytest.fixture
def root(three_states: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    subprocess.run(["cp", "-a", str(three_states), str(copy)], check=True)
    return copy


def full_rows(root: Path) -> list[tuple[object, ...]]:
    return [(s.id, s.created, s.summary, s.packages, s.active, s.pending, s.booted,
             s.activated) for s in list_states(root)]


def test_the_same_rows_as_the_full_reader(root: Path) -> None:
    rows = quick_states(root)
    assert rows == full_rows(root)
    assert rows is not None and len(rows) == 3
    assert any(r[5] for r in rows), "the deferred state is pending"
    # The agent's record of a boot into state 1: "booted" from the same reading.
    (root / "run/moss").mkdir(parents=True, exist_ok=True)
    (root / "run/moss/pivot.json").write_text(json.dumps({"active": 1, "time": 5}))
    rows = quick_states(root)
    assert rows == full_rows(root) and rows is not None and rows[0][6]


def test_the_table_is_the_full_commands(root: Path) -> None:
    quick = moss(root, "state", "list")
    full = moss(root, "state", "list", "-v")  # -v: the argparse path and full reader
    assert quick.returncode == full.returncode == 0
    assert quick.stdout == full.stdout and "pending" in quick.stdout


def test_a_bad_value_goes_to_the_full_reader_which_names_it(root: Path) -> None:
    with closing(sqlite3.connect(root / ".moss/db/state")) as conn, conn:
        conn.execute("UPDATE state_selections SET package_id = x'0102' WHERE state_id = 2")
    assert quick_states(root) is None
    proc = moss(root, "state", "list")
    assert proc.returncode == 1 and proc.stdout == ""
    assert f"database {root / '.moss/db/state'}: state 2:" in proc.stderr


@pytest.mark.parametrize("name", ["install", "state", "layout", "extras"])
def test_a_damaged_database_goes_to_the_full_reader(root: Path, name: str) -> None:
    (root / ".moss/db" / name).write_bytes(b"not a database at all" * 10)
    assert quick_states(root) is None
    proc = moss(root, "state", "list")
    assert proc.returncode == 1 and proc.stdout == ""
    assert str(root / ".moss/db" / name) in proc.stderr


def test_a_missing_state_database_is_refused_not_an_empty_list(root: Path) -> None:
    (root / ".moss/db/state").unlink()
    assert quick_states(root) is None
    proc = moss(root, "state", "list")
    assert proc.returncode == 1 and "empty or missing" in proc.stderr
