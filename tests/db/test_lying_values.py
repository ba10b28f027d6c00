"""Issue 23, rule 9: no value a package or a database row can hold is a traceback.

Database rows that lie (huge or negative integers, text or blobs in integer columns,
NULLs, digests that are not digests, paths that leave /usr, symlink contents past
PATH_MAX) are written with ``sqlite3`` into a valid root, then moss is run on it as a
user runs it.  Packages with out-of-range fields are made with moss's own stone
writer.  Each command either works or says one line (naming the database and
``moss state rebuild`` when a row is at fault); no state is lost and nothing is written
outside the root.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path
from tempfile import TemporaryDirectory

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from moss.cli import main
from moss.stone import FileKind, LayoutEntry, PackageMeta
from moss.stone.writer import write_stone
from tests.support.packages import Link, make_package

# One row of a table (its first), so a lie never breaks a UNIQUE constraint.
FIRST = "rowid = (SELECT min(rowid) FROM {table})"

# (database, table, column, which rows): every column moss reads back.
COLUMNS = [
    ("install", "meta", column, FIRST)
    for column in ("package", "name", "version_identifier", "source_release", "build_release",
                   "architecture", "summary", "homepage", "uri", "hash", "download_size")
] + [
    ("install", "meta_dependencies", "dependency", FIRST),
    ("install", "meta_providers", "provider", FIRST),
    ("install", "meta_licenses", "license", FIRST),
] + [
    ("layout", "layout", column, f"entry_type = '{kind}'")
    for column in ("package_id", "uid", "gid", "mode", "tag", "entry_value1", "entry_value2")
    for kind in ("regular", "symlink", "directory")
] + [
    ("state", "state", column, FIRST) for column in ("created", "summary", "description")
] + [
    ("state", "state_selections", column, FIRST) for column in ("package_id", "reason")
] + [
    ("extras", "assets", column, FIRST)
    for column in ("digest", "blake3", "size", "mode", "uid", "gid", "mtime", "inode")
]

HOSTILE = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([2**32 - 1, 2**32, 2**40, -1, 0o1000000, 253402300800, 2**62]),
    st.sampled_from(["../..", "/etc/passwd", "../../../../tmp/escaped", "a" * 4200,
                     "x\0y", str(2**128), "-1", "", ".", "usr/../..", str(2**64 - 1),
                     "bad((", "text"]),
    st.text(max_size=12),
    st.none(),
    st.binary(max_size=8),
    st.floats(allow_nan=False, allow_infinity=False),
)

COMMANDS = [("list", "installed"), ("info", "hello"), ("state", "verify"),
            ("state", "activate", "1"), ("install", "EXTRA"), ("remove", "hello"),
            ("cache", "prune")]


@pytest.fixture(scope="module")
def valid_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A root with two states: 1 holds hello (a file, a symlink, a folder), 2 adds tool."""
    work = tmp_path_factory.mktemp("lying")
    hello = make_package(work, "hello", {"bin/hello": "hi\n", "share/hello/link":
                                         Link("../../bin/hello"), "share/hello/dir": None})
    tool = make_package(work, "tool", {"bin/tool": "tool\n"})
    extra = make_package(work, "extra", {"share/extra": "x"})
    root = work / "root"
    for pkg in (hello, tool):
        assert main(["-D", str(root), "-y", "--quiet", "install", str(pkg)]) == 0
    return root, extra


def states_on_disk(root: Path) -> set[str]:
    """The state trees a user would not want to lose: archived ones and the live one."""
    found = {p.name for p in (root / ".moss/root").iterdir() if p.name.isdigit()}
    live = root / "usr/.stateID"
    return found | ({live.read_text().strip()} if live.exists() else set())


def run(root: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    """moss in this process (a bug would raise here, as it prints a traceback there)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(["-D", str(root), "-y", *args])
    return subprocess.CompletedProcess(args, status, out.getvalue(), err.getvalue())


def check_one_line_or_success(done: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.returncode in (0, 1), done.stderr
    if done.returncode == 1 and not done.stderr and done.args[:2] == ["state", "verify"]:
        assert "problem" in done.stdout  # what verify found: its report is its output
    elif done.returncode == 1:
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr


@settings(max_examples=25, deadline=None)
@given(column=st.sampled_from(COLUMNS), value=HOSTILE, command=st.sampled_from(COMMANDS))
def test_a_lying_row_is_one_line_never_a_traceback(
        valid_root: tuple[Path, Path], column: tuple[str, str, str, str], value: object,
        command: tuple[str, ...]) -> None:
    source, extra = valid_root
    database, table, name, where = column
    with TemporaryDirectory() as scratch:
        sandbox = Path(scratch)
        root = sandbox / "root"
        shutil.copytree(source, root, symlinks=True)
        conn = sqlite3.connect(root / ".moss/db" / database)
        try:
            with conn:
                conn.execute(f"UPDATE {table} SET {name} = ? WHERE "
                             + where.format(table=table), (value,))
        except sqlite3.IntegrityError:
            assume(False)  # a NOT NULL column: SQLite itself refuses the lie
        finally:
            conn.close()
        before = states_on_disk(root)
        args = [str(extra) if a == "EXTRA" else a for a in command]
        done = run(root, args)
        check_one_line_or_success(done)
        if done.returncode == 1 and "database" in done.stderr:
            assert "moss state rebuild" in done.stderr
        assert sorted(os.listdir(sandbox)) == ["root"]  # nothing beside the root
        assert not Path("/tmp/escaped").exists()
        lost = before - states_on_disk(root)
        if command[:2] not in (("remove", "hello"),):
            assert not lost, f"states lost: {lost}"


def test_the_issues_rows_are_refused_in_one_line_naming_the_database(
        valid_root: tuple[Path, Path]) -> None:
    """The named cases: a uid of 2**40, text in an integer column, a NULL or ``../..``
    digest, 4 200 bytes of symlink, a time past 9999."""
    source, extra = valid_root
    cases = [
        ("layout", "UPDATE layout SET uid = 1099511627776", ["install", str(extra)]),
        ("layout", "UPDATE layout SET mode = 'text'", ["state", "verify"]),
        ("layout", "UPDATE layout SET entry_value1 = '../..' WHERE entry_type = 'regular'",
         ["cache", "prune"]),
        ("layout", "UPDATE layout SET entry_value1 = NULL WHERE entry_type = 'regular'",
         ["state", "activate", "1"]),
        ("layout", f"UPDATE layout SET entry_value1 = '{'a' * 4200}' "
         "WHERE entry_type = 'symlink'", ["install", str(extra)]),
        ("install", "UPDATE meta SET name = X'00ff'", ["install", str(extra)]),
        ("install", "INSERT INTO meta_dependencies SELECT package, 'bad((' FROM meta",
         ["list", "installed"]),
        ("state", "UPDATE state SET created = 99999999999999999", ["state", "list"]),
        ("extras", f"UPDATE assets SET digest = NULL WHERE {FIRST}", ["state", "verify"]),
        ("extras", f"UPDATE assets SET digest = '../..' WHERE {FIRST}", ["install", str(extra)]),
    ]
    for database, sql, args in cases:
        with TemporaryDirectory() as scratch:
            root = Path(scratch) / "root"
            shutil.copytree(source, root, symlinks=True)
            with sqlite3.connect(root / ".moss/db" / database) as conn:
                conn.execute(sql.format(table=sql.split()[1]))
            conn.close()
            before = states_on_disk(root)
            done = run(root, args)
            assert done.returncode == 1, (sql, done.stderr)
            check_one_line_or_success(done)
            assert f".moss/db/{database}" in done.stderr and "moss state rebuild" in done.stderr
            assert states_on_disk(root) == before


def write_package(out: Path, release: int, build_release: int, link_bytes: int) -> Path:
    """A package made with moss's own writer, whatever its values (the packer's host
    filesystem could not hold a 4 200-byte symlink)."""
    meta = PackageMeta(name="odd", version="1.0", release=release, build_release=build_release,
                       summary="odd values")
    layout = [
        LayoutEntry(0, 0, 0o40755, 0, FileKind.DIRECTORY, "", "share"),
        LayoutEntry(0, 0, 0o120777, 0, FileKind.SYMLINK, "x" * link_bytes, "share/link"),
    ]
    write_stone(out, meta, layout, {})
    return out


@settings(max_examples=8, deadline=None)
@given(release=st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([2**63, 2**64 - 1])),
       build_release=st.integers(0, 2**64 - 1),
       link_bytes=st.one_of(st.integers(1, 6000), st.sampled_from([4095, 4096, 4200])))
def test_a_package_with_values_out_of_range_is_refused_in_one_line(
        valid_root: tuple[Path, Path], release: int, build_release: int,
        link_bytes: int) -> None:
    source, _extra = valid_root
    fits = release < 2**63 and build_release < 2**63 and link_bytes <= 4095
    with TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        shutil.copytree(source, root, symlinks=True)
        pkg = write_package(Path(scratch) / "odd.stone", release, build_release, link_bytes)
        before = states_on_disk(root)
        for args in (["inspect", str(pkg)], ["install", str(pkg)]):
            done = run(root, args)
            check_one_line_or_success(done)
            assert done.returncode == (0 if fits else 1), done.stderr
        assert (root / "usr/share/link").is_symlink() == fits
        assert before <= states_on_disk(root)
