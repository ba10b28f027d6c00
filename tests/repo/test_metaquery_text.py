"""``list available``'s table built by SQLite (issue 27) against the row-by-row path.

:func:`moss.repo.metatable.table_text` pads, ranks and trims in SQL; the rows
:func:`moss.repo.metaquery.best_table` gives, padded by ``write_padded``, are what
``list available`` printed before.  Both run here on real meta databases written by
``repo update``'s own code, with what padding and trimming get wrong first: names
and versions beyond ASCII, empty summaries and summaries ending in whitespace of
every kind Python strips, names offered by several repositories at one priority and
at different ones, and installed packages.
"""

from __future__ import annotations

import contextlib
import io
import os
import sqlite3
import sys
from pathlib import Path

import pytest

from moss.cli.output import write_padded
from moss.repo import metaquery, metatable
from moss.repo.config import Repository, cache_dir
from moss.repo.metacache import write_tables
from moss.repo.metadb import DB_NAME
from moss.stone import PackageMeta


def test_whitespace_is_what_python_strips() -> None:
    spaces = "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())
    assert spaces == metatable.WHITESPACE


def _meta(name: str, release: int = 1, summary: str = "s", version: str = "1.0",
          build: int = 1) -> PackageMeta:
    return PackageMeta(name=name, version=version, release=release, build_release=build,
                       summary=summary, hash=f"h-{name}-{release}-{build}-{version}")


def _repo(root: Path, repo: Repository, metas: list[PackageMeta]) -> None:
    folder = cache_dir(root, repo)
    folder.mkdir(parents=True)
    index = folder / "stone.index"
    index.write_bytes(b"index")
    conn = sqlite3.connect(folder / DB_NAME)
    with conn:
        write_tables(conn, metas, os.stat(index))
    conn.close()


def _unstore(root: Path, repo: Repository) -> None:
    """The database as real moss or an older moss leaves it: no stored widths or lines."""
    conn = sqlite3.connect(cache_dir(root, repo) / DB_NAME)
    with conn:
        conn.executescript("DROP TABLE moss_py_widths; DROP TABLE moss_py_lines;")
    conn.close()


def _both(root: Path, repos: list[Repository], installed: set[str]) -> tuple[str, str | None]:
    rows = metaquery.best_table(root, repos, installed)
    assert rows is not None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        write_padded([("NAME", "VERSION", "REPOSITORY", "", "SUMMARY"), *rows])
    return out.getvalue(), metatable.table_text(root, repos, installed)


TRAILING = ["", " ", "x\t", "tail\u3000", "nbsp\xa0", "sep\x1c", "line\u2028", "   ",
            "inner  space", "é ünïcode", "emoji 🦀"]


@pytest.mark.parametrize("installed", [set(), {"h-zeta-2-1-1.0", "h-ünï-1-1-1.0"}])
def test_sql_table_matches_the_padded_rows(tmp_path: Path, installed: set[str]) -> None:
    main = Repository("main", "file:///main")
    extra = Repository("extra-with-a-long-id", "file:///extra", priority=5)
    same = Repository("same", "file:///same")
    _repo(tmp_path, main, [_meta(f"p{i}", summary=s) for i, s in enumerate(TRAILING)]
          + [_meta("zeta", 2), _meta("ünï", summary="non-ASCII name"),
             _meta("tie", 3, build=2), _meta("over", 9), _meta("长名字包", version="1.0.0-β")])
    _repo(tmp_path, extra, [_meta("over", 1, "extra wins by priority"),
                            _meta("only-extra", 1, "")])
    _repo(tmp_path, same, [_meta("tie", 3, "same loses the tie", build=2),
                           _meta("zeta", 3, "same wins by release"),
                           _meta("p0", 1, "same loses a tie to main")])
    for repos in ([main], [main, same], [main, extra, same], [same, extra]):
        ranked = sorted(repos, key=lambda r: (-r.priority, r.id))
        padded, text = _both(tmp_path, ranked, installed)
        assert text == padded


@pytest.mark.parametrize("installed", [set(), {"h-zeta-2-1-1.0"}])
def test_databases_without_stored_widths_are_measured(tmp_path: Path, installed: set[str]
                                                      ) -> None:
    """A database real moss or an older moss wrote has no ``moss_py_widths``: its
    cells are measured, beside databases whose widths are stored or alone."""
    main = Repository("main", "file:///main")
    same = Repository("same-but-longer", "file:///same")
    wide = Repository("wide", "file:///wide", priority=3)
    _repo(tmp_path, main, [_meta(f"p{i}", summary=s) for i, s in enumerate(TRAILING)]
          + [_meta("zeta", 2), _meta("ünï", summary="non-ASCII name")])
    _repo(tmp_path, same, [_meta("zeta", 3, "same wins"), _meta("long-name-here", 1, "")])
    _repo(tmp_path, wide, [_meta("w", version="1.0.0.0.0.0.0-wide", summary="x ")])
    _unstore(tmp_path, main)
    for repos in ([main], [wide, main], [wide, main, same]):
        padded, text = _both(tmp_path, repos, installed)
        assert text == padded
    _unstore(tmp_path, same)
    _unstore(tmp_path, wide)
    padded, text = _both(tmp_path, [wide, main, same], installed)
    assert text == padded


def test_stale_stored_widths_are_not_trusted(tmp_path: Path) -> None:
    """Widths whose index identity is not the database's own (another write, a hand
    edit) are measured instead: stored widths too small would misalign every row."""
    main = Repository("main", "file:///main")
    _repo(tmp_path, main, [_meta("a-long-name", version="1.0.0.0.0-long"), _meta("b")])
    padded, _ = _both(tmp_path, [main], set())
    conn = sqlite3.connect(cache_dir(tmp_path, main) / DB_NAME)
    with conn:
        conn.execute("UPDATE moss_py_widths SET size = size + 1, name = 1, version = 1")
        conn.execute("UPDATE moss_py_lines SET prefix = 'x'")
    conn.close()
    assert metatable.table_text(tmp_path, [main], set()) == padded


def test_no_repository_prints_the_header(tmp_path: Path) -> None:
    padded, text = _both(tmp_path, [], set())
    assert text == padded == "NAME  VERSION  REPOSITORY    SUMMARY\n"


@pytest.mark.parametrize("stored", [True, False])
def test_a_nul_in_a_cell_takes_the_row_path(tmp_path: Path, stored: bool) -> None:
    """SQLite's length() and printf stop at a NUL; Python's do not."""
    main = Repository("main", "file:///main")
    _repo(tmp_path, main, [_meta("a", summary="nul\0here"), _meta("b")])
    if not stored:
        _unstore(tmp_path, main)
    assert metatable.table_text(tmp_path, [main], set()) is None


def test_widths_come_from_the_shown_rows_only(tmp_path: Path) -> None:
    """Each database's longest cells may belong to offers another repository beats:
    a beaten repository's long id, a beaten offer's long version or its "installed"
    mark must not widen the table's columns."""
    main = Repository("main", "file:///main", priority=5)
    beaten = Repository("a-beaten-repository-id", "file:///beaten")
    _repo(tmp_path, main, [_meta("a"), _meta("b", summary="")])
    _repo(tmp_path, beaten, [_meta("a", 7, version="1.0.0.0.0.0.0.0-long"), _meta("b", 2)])
    for installed in (set(), {"h-a-7-1-1.0.0.0.0.0.0.0-long"}):
        padded, text = _both(tmp_path, [main, beaten], installed)
        assert text == padded
        assert "a-beaten" not in padded and "installed" not in padded
