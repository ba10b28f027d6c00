"""Whether a root holds databases of this project's earlier releases, and where its
databases are: the part of :mod:`moss.db.legacy` every command needs.

Every open of a root's databases asks; only a legacy root needs the converter, so
:mod:`moss.db.databases` imports :mod:`moss.db.legacy` only then (issue 18: a query
loads no code it does not run).  A read-only open asks the connections it has just
made (:func:`marked`), not three more of its own.
"""

from __future__ import annotations

import sqlite3
import urllib.parse
from collections.abc import Iterable
from pathlib import Path

from moss.db import extras as extras_db

REAL_NAMES = ("install", "state", "layout")
MEMORY = ":memory:"
WORK = "db.upgrade"
KEPT = "db.legacy"
COMPLETE = "complete"
# A table only the old schemas have, in each database.
MARKS = {"install": "licenses", "state": "selections", "layout": "assets"}


def tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def read_only(path: Path) -> sqlite3.Connection:
    """``path`` opened so that nothing is written to it, not even a WAL checkpoint."""
    wal = Path(f"{path}-wal").exists()
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro{'' if wal else '&immutable=1'}"
    return sqlite3.connect(uri, uri=True, isolation_level=None)


def is_legacy(db_dir: Path) -> bool:
    """Whether ``db_dir`` holds a database of this project's earlier schemas."""
    for name, mark in MARKS.items():
        path = db_dir / name
        if not path.is_file() or path.stat().st_size == 0:
            continue
        try:
            conn = read_only(path)
            try:
                if mark in tables(conn):
                    return True
            finally:
                conn.close()
        except sqlite3.DatabaseError:
            continue  # damaged: the regular open reports it
    return False


def marked(conns: Iterable[tuple[str, sqlite3.Connection]]) -> bool:
    """Whether one of the open databases (by name) has its old schema's table."""
    for name, conn in conns:
        query = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?"
        if conn.execute(query, (MARKS[name],)).fetchone() is not None:
            return True
    return False


def upgrade_pending(moss_dir: Path) -> bool:
    """Whether :func:`moss.db.legacy.upgrade` has anything to do: a legacy database,
    or the work folder of an upgrade (to finish, or to remove)."""
    return (moss_dir / WORK).exists() or is_legacy(moss_dir / "db")


def current_paths(moss_dir: Path) -> dict[str, Path]:
    """Where each database is, also in the middle of an interrupted upgrade."""
    work = moss_dir / WORK
    finishing = (work / COMPLETE).exists()
    names = (*REAL_NAMES, extras_db.NAME)
    return {name: work / name if finishing and (work / name).exists() else moss_dir / "db" / name
            for name in names}
