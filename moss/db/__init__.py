"""The three SQLite databases of a root, each in its own module.

``open_database`` applies the schema migrations a database has not seen yet,
tracked in SQLite's ``user_version`` and only when it is lower, as real moss
does (``moss/src/db/migrations.rs``); its v1 schemas say ``IF NOT EXISTS``, so
a root of the older diesel-based releases (``user_version`` 0, same tables) is
taken as it is.

Whatever is wrong with a database file (garbage, truncated, a directory in
its place, unreadable), opening it raises :class:`DatabaseError`, a
:class:`MossError`, so every command reports it as one line.  A read-only
open (``writable=False``) writes nothing at all: no migration, no journal
mode change, no ``-wal``/``-shm`` files; a database older than this moss is
migrated in a private in-memory copy instead.
"""

from __future__ import annotations

import os
import sqlite3
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

from moss.core.errors import MossError

REBUILD_HINT = "`moss state rebuild` rebuilds the databases from the states on disk"

_MAGIC = b"SQLite format 3\x00"


class DatabaseError(MossError):
    """A database that cannot be used as it is: damaged, unreadable, or wrongly empty."""


def describe_failure(path: Path, exc: BaseException) -> str:
    """One line saying what is wrong with ``path`` and what to do about it."""
    text = str(exc) or type(exc).__name__
    if "readonly" in text or "read-only" in text:
        return f"cannot write database {path} ({text}): is the root read-only?"
    if "locked" in text:
        return f"database {path} is locked by another process ({text})"
    if path.is_dir():
        return f"database {path} is a directory, not a database; {REBUILD_HINT}"
    return f"database {path} is damaged or unreadable ({text}); {REBUILD_HINT}"


def open_database(path: Path, migrations: Sequence[str], *, writable: bool = True,
                  refuse_blank: bool = False) -> sqlite3.Connection:
    """Open ``path`` and bring its schema to ``len(migrations)``.

    ``refuse_blank``: the caller knows the root holds states, so a database
    with no tables at all (a zero-length or missing file) is damage, never a
    fresh start; it is refused before anything is written to it.
    """
    try:
        _check_file(path, writable)
        if writable:
            return _open_writable(path, migrations, refuse_blank)
        return _open_readonly(path, migrations, refuse_blank)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise DatabaseError(describe_failure(path, exc)) from exc


def _check_file(path: Path, writable: bool) -> None:
    """Refuse what is plainly not a database before SQLite gets to it."""
    if not os.path.lexists(path):
        return
    if path.is_dir() or not path.is_file():
        raise DatabaseError(describe_failure(path, OSError("not a regular file")))
    size = path.stat().st_size
    if size == 0:
        return
    with open(path, "rb") as f:
        header = f.read(100)
    if not header.startswith(_MAGIC) or len(header) < 100:
        raise DatabaseError(describe_failure(path, OSError("not an SQLite database")))
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    header_valid = header[24:28] == header[92:96]
    wal = Path(f"{path}-wal")
    clean = not wal.exists() or wal.stat().st_size == 0
    if page_size < 512 or size % page_size:
        raise DatabaseError(describe_failure(path, OSError("truncated: not whole pages")))
    if clean and header_valid and pages and size < pages * page_size:
        raise DatabaseError(describe_failure(
            path, OSError(f"truncated: {size} bytes of {pages * page_size}")))


def _is_blank(conn: sqlite3.Connection) -> bool:
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    return bool(version == 0 and tables == 0)


def _refuse_blank(path: Path) -> DatabaseError:
    return DatabaseError(
        f"database {path} is empty or missing, but this root holds states on disk; "
        f"refusing to take it for an empty system: {REBUILD_HINT}")


def _open_writable(path: Path, migrations: Sequence[str],
                   refuse_blank: bool) -> sqlite3.Connection:
    if refuse_blank and (not path.exists() or path.stat().st_size == 0):
        raise _refuse_blank(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        if refuse_blank and _is_blank(conn):
            raise _refuse_blank(path)
        conn.execute("PRAGMA foreign_keys = ON")
        # The journal mode is the file's own (real moss leaves SQLite's default,
        # a rollback journal): moss never switches a root's databases to WAL.
        conn.execute("PRAGMA synchronous = FULL")
        migrate(conn, path, migrations)
    except BaseException:
        conn.close()
        raise
    return conn


def _open_readonly(path: Path, migrations: Sequence[str],
                   refuse_blank: bool) -> sqlite3.Connection:
    """Read without writing a byte; an absent or empty file reads as an empty database."""
    if not path.exists() or path.stat().st_size == 0:
        if refuse_blank:
            raise _refuse_blank(path)
        return _in_memory(None, path, migrations)
    # Without a WAL or a hot journal, ``immutable`` reads the file as it is and
    # creates no -wal/-shm (which a plain read-only open leaves behind, and cannot
    # create on a read-only filesystem); with one, SQLite must see it.
    journals = (Path(f"{path}-wal"), Path(f"{path}-journal"))
    immutable = "" if any(j.exists() for j in journals) else "&immutable=1"
    uri = f"file:{urllib.parse.quote(str(path))}?mode=ro{immutable}"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None)
    try:
        if refuse_blank and _is_blank(conn):
            raise _refuse_blank(path)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version < len(migrations):
            return _in_memory(conn, path, migrations)
        _check_version(version, path, migrations)
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        conn.close()
        raise
    return conn


def _in_memory(source: sqlite3.Connection | None, path: Path,
               migrations: Sequence[str]) -> sqlite3.Connection:
    """A private copy of ``source`` (or an empty database), migrated in memory."""
    memory = sqlite3.connect(":memory:", isolation_level=None)
    if source is not None:
        source.backup(memory)
        source.close()
    migrate(memory, path, migrations)
    memory.execute("PRAGMA foreign_keys = ON")
    return memory


def _check_version(version: int, path: Path, migrations: Sequence[str]) -> None:
    if version > len(migrations):
        raise DatabaseError(
            f"database {path} has schema version {version}, newer than this moss knows "
            f"({len(migrations)}); upgrade moss"
        )


def migrate(conn: sqlite3.Connection, path: Path, migrations: Sequence[str]) -> None:
    """Apply the migrations ``conn`` has not seen, each in its own transaction."""
    version = conn.execute("PRAGMA user_version").fetchone()[0]
    _check_version(version, path, migrations)
    for number, script in enumerate(migrations[version:], start=version + 1):
        conn.execute("BEGIN IMMEDIATE")
        for statement in script.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {number}")
        conn.execute("COMMIT")


def quick_check(conn: sqlite3.Connection) -> str | None:
    """What SQLite's own ``quick_check`` finds wrong, or None."""
    try:
        result = conn.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        return str(exc)
    return None if result == "ok" else str(result)
