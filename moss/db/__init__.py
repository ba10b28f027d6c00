"""The three SQLite databases of a root, each in its own module.

``open_database`` applies the schema migrations a database has not seen yet,
tracked in SQLite's ``user_version``, so a newer moss can upgrade an older
root's databases in place.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

from moss.core.errors import MossError


def open_database(path: Path, migrations: Sequence[str]) -> sqlite3.Connection:
    """Open ``path`` and bring its schema to ``len(migrations)``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    if version > len(migrations):
        conn.close()
        raise MossError(
            f"database {path} has schema version {version}, newer than this moss knows "
            f"({len(migrations)}); upgrade moss"
        )
    for number, script in enumerate(migrations[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")
    return conn
