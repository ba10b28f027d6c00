"""``search`` and ``list available`` from the meta databases: ranking, widths, non-ASCII.

Generated indexes in three repositories (two of the same priority, whose ties
the release, then the build release, then the repository id settle; one
preferred), with names and summaries outside ASCII.  Each query runs through the
CLI from the meta databases, then from the parsed indexes (the databases made
stale); stdout must be the same byte for byte.  Matching is Python's
``keyword.lower() in text.lower()`` on both paths: SQLite's own ``lower()`` and
``LIKE`` fold only ASCII and would miss "É" in "CAFÉ".  A database this moss
wrote in an older format, or real moss wrote (none of this moss's tables), is
never read: the index is parsed instead.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from moss.stone import PackageMeta
from moss.stone.writer import write_repository_index

SEARCHES = ["STRAßE", "STRASSE", "É", "café", "İ", "i̇", "dup", ""]
QUERIES = [["list", "available"], ["list", "available", "--json"],
           *(["search", term] for term in SEARCHES), ["search", "É", "--json"]]


def _meta(name: str, summary: str, release: int = 1, build: int = 1,
          version: str = "1.0") -> PackageMeta:
    digest = hashlib.sha256(f"{name}/{version}/{release}/{build}/{summary}".encode())
    return PackageMeta(name, version, release, build, summary=summary, source_id=name,
                       uri=f"stones/{name}.stone", hash=digest.hexdigest(), size=4096)


REPOS: dict[str, tuple[int, list[PackageMeta]]] = {
    "alpha": (0, [_meta("straße-werkzeug", "Werkzeug für die Straße"),
                  _meta("cafe", "CAFÉ au lait"),
                  _meta("dup", "first of equals", 3, 2, "a"),
                  _meta("dup", "second of equals", 3, 2, "b"),
                  _meta("dup", "older", 2, 9, "c"),
                  _meta("tie", "alpha's tie", 2, 1)]),
    "beta": (0, [_meta("dup", "beta's equal", 3, 2, "d"),
                 _meta("tie", "beta's newer build", 2, 3),
                 _meta("İstanbul", "a city"), _meta("Éclair", "pastry"),
                 _meta("ünïcode-ßß-wide-name", "trailing blanks   ", 7, 1, "10.2.3")]),
    "gamma": (5, [_meta("cafe", "plain coffee", 1, 1, "0.1"),
                  _meta("empty", "")]),
}


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), *args],
                          capture_output=True, text=True, timeout=120, check=False)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("metasearch")
    target = work / "root"
    for name, (priority, metas) in REPOS.items():
        index = work / name / "stone.index"
        index.parent.mkdir()
        write_repository_index(index, metas)
        assert moss(target, "repo", "add", "-p", str(priority), name,
                    index.as_uri()).returncode == 0
    done = moss(target, "repo", "update")
    assert done.returncode == 0, done.stderr
    return target


def _dbs(root: Path) -> list[Path]:
    found = sorted(root.glob(".moss/repo/*/db"))
    assert len(found) == 3
    return found


def _answers(root: Path) -> list[tuple[int, str, str]]:
    return [(r.returncode, r.stdout, r.stderr) for r in (moss(root, *q) for q in QUERIES)]


def _touch_indexes(root: Path, seconds: int) -> None:
    for db in _dbs(root):
        index = db.parent / "stone.index"
        stat = index.stat()
        os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns + seconds * 1_000_000_000))


def test_search_and_list_answer_the_same_from_the_database_and_the_index(root: Path) -> None:
    from_db = _answers(root)
    answers = dict(zip((" ".join(q) for q in QUERIES), from_db, strict=True))
    listed = answers["list available"][1].splitlines()
    assert [line.split()[0] for line in listed[1:]] == sorted(
        {m.name for _, metas in REPOS.values() for m in metas})
    columns = {line.split()[0]: line.split()[1:3] for line in listed[1:]}
    assert columns["dup"] == ["a-3", "alpha"]  # first of equals, then the smaller id
    assert columns["tie"] == ["1.0-2", "beta"]  # the higher build release
    assert columns["cafe"] == ["0.1-1", "gamma"]  # the preferred repository
    assert listed[0].index("VERSION") == len("ünïcode-ßß-wide-name") + 2
    assert "trailing blanks\n" in answers["list available"][1]
    assert "straße-werkzeug" in answers["search STRAßE"][1]
    assert answers["search STRASSE"][1].count("\n") == 1  # lower(), not casefold(): header
    assert "İstanbul" in answers["search i̇"][1] and "İstanbul" in answers["search İ"][1]
    # alpha's cafe matches "É", but gamma's is the best offer of cafe, and does not
    assert "cafe" not in answers["search É"][1] + answers["search café"][1]
    assert "Éclair" in answers["search É"][1]  # its name, lowered, holds "é"
    assert answers["search "][1] == answers["list available"][1]
    _touch_indexes(root, 1)  # stale: the indexes are parsed again
    try:
        assert _answers(root) == from_db
    finally:
        _touch_indexes(root, -1)


@pytest.mark.parametrize("change", ["older format", "written by real moss"])
def test_a_database_without_current_tables_is_never_read(root: Path, change: str) -> None:
    """The indexes stay as they are (size, mtime, inode): only the database changes, and
    then a query must parse the index; zeroed in place, it proves it read it."""
    expected = moss(root, "list", "available")
    saved = {db: db.read_bytes() for db in _dbs(root)}
    try:
        for db in _dbs(root):
            with sqlite3.connect(db) as conn:
                if change == "older format":
                    conn.execute("UPDATE moss_py_source SET format = format - 1")
                else:
                    for table in ("moss_py_source", "moss_py_offers", "moss_py_keys",
                                  "moss_py_best"):
                        conn.execute(f"DROP TABLE {table}")
            conn.close()
        assert moss(root, "list", "available").stdout == expected.stdout
        index = _dbs(root)[0].parent / "stone.index"
        stat, data = index.stat(), index.read_bytes()
        with index.open("r+b") as f:
            f.write(b"\0" * stat.st_size)
        os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        try:
            broken = moss(root, "search", "dup")
            assert broken.returncode == 1 and "not a valid repository index" in broken.stderr
        finally:
            with index.open("r+b") as f:
                f.write(data)
            os.utime(index, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    finally:
        for db, content in saved.items():
            db.write_bytes(content)
    assert moss(root, "list", "available").stdout == expected.stdout
