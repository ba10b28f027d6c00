"""Resolution reads its offers from the repositories' meta databases when current.

``metaquery.load_offers`` answers what ``moss.repo.index.load_offers`` parses, in the
same order, from the tables ``repo update`` writes (a third of the time of parsing
30 000 records); a stale, damaged or short database is never trusted over the index.
Same repositories as ``test_repo_metaquery``: three of them, priorities and a tie.
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
from pathlib import Path

from moss.repo import index, metaquery
from moss.repo.config import load_repositories
from moss.repo.index import Offer
from tests.repo.test_repo_httpserver import site
from tests.repo.test_repo_metaquery import _indexes, moss, root

__all__ = ["root", "site"]


def _plain(offers: list[Offer]) -> list[Offer]:
    """The offers without the unmodelled records, which the databases do not keep."""
    return [dataclasses.replace(o, meta=dataclasses.replace(o.meta, extra=[])) for o in offers]


def test_the_databases_give_the_offers_the_indexes_give(root: Path) -> None:
    repos = load_repositories(root)
    parsed = index.load_offers(root, repos)
    from_db = metaquery.all_offers(root, repos)
    assert from_db is not None and len(parsed) > 4
    assert from_db == _plain(parsed)  # same metas, repositories, priorities and order


def test_install_plans_from_a_current_database_and_parses_a_changed_index(root: Path) -> None:
    """Indexes zeroed in place (same size, mtime, inode): the plan still comes, so it
    came from the databases; a real change of an index is parsed (and refused here)."""
    args = ("install", "--dry-run", "greeter", "bash-helpers")
    expected = moss(root, *args)
    assert expected.returncode == 0 and "bash-helpers" in expected.stdout, expected.stderr
    for path in _indexes(root):
        stat = path.stat()
        with path.open("r+b") as f:
            f.write(b"\0" * stat.st_size)
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    again = moss(root, *args)
    assert (again.returncode, again.stdout) == (0, expected.stdout)
    first = _indexes(root)[0]
    first.write_bytes(b"\0" * (first.stat().st_size + 1))
    broken = moss(root, *args)
    assert broken.returncode == 1 and "not a valid repository index" in broken.stderr


def test_a_short_or_damaged_database_is_not_trusted(root: Path) -> None:
    repos = load_repositories(root)
    db = _indexes(root)[0].parent / "db"
    assert db.is_file(), sorted(os.listdir(db.parent))
    stat = _indexes(root)[0].stat()
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM moss_py_offers WHERE seq = (SELECT max(seq) FROM moss_py_offers)")
    assert _indexes(root)[0].stat().st_mtime_ns == stat.st_mtime_ns
    assert metaquery.all_offers(root, repos) is None
    assert metaquery.load_offers(root, repos) == index.load_offers(root, repos)
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE moss_py_offers SET record = '[1, 2' ")
        conn.execute("UPDATE moss_py_source SET packages = packages - 1")
    assert metaquery.all_offers(root, repos) is None
