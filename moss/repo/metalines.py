"""``list available``'s rows of one repository, written as it prints them, in the meta
database beside this moss's other tables (:mod:`moss.repo.metacache`, issue 27).

Building the table of 100 000 packages was mostly finding each column's longest cell
(a scan of every name, version and summary, NUL check included) and padding every
row with ``printf``.  Both depend only on the rows of one database, so ``repo update``
does them once, in the same transaction as the rows (the file is written whole and
swapped in):

* ``moss_py_widths``: one row, the index identity ``moss_py_source`` holds (format,
  size, mtime in ns, inode) copied, this table's own format, the number of rows, the
  longest name and version-release (in code points, as Python's ``len``) and whether
  any name, version-release or summary holds a NUL.  A query trusts it only when its
  identity is ``moss_py_source``'s, itself checked against the index as it is now
  (:func:`moss.repo.metacache.open_current`): stale widths are never read;
* ``moss_py_lines``: ``moss_py_best``'s rows, by name, with the name and
  version-release padded to this database's widths (the header's at least) and two
  spaces after each, and whether the printed line needs trimming (the summary empty
  or ending in whitespace, as ``str.rstrip`` sees it).

A database without them (written by real moss, which ignores tables it does not know,
or by an older moss) is measured row by row as before.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence

from moss.stone import PackageMeta

#: Bumped when these two tables change shape: an older file is then measured instead.
FORMAT = 1
#: The header cells of the two padded columns (:data:`moss.repo.metatable.HEADER`).
NAME, VERSION = "NAME", "VERSION"

SCHEMA = """
CREATE TABLE moss_py_widths (format INT NOT NULL, size INT NOT NULL, mtime_ns INT NOT NULL,
    inode INT NOT NULL, lines_format INT NOT NULL, rows INT NOT NULL, name INT NOT NULL,
    version INT NOT NULL, nul INT NOT NULL);
CREATE TABLE moss_py_lines (name TEXT PRIMARY KEY, prefix TEXT NOT NULL,
    summary TEXT NOT NULL, ragged INT NOT NULL, release INT NOT NULL,
    build_release INT NOT NULL, hash TEXT) WITHOUT ROWID;
"""

#: A database's stored widths, only when they describe the rows its index gave.
_READ = ("SELECT w.rows, w.name, w.version, w.nul FROM moss_py_widths AS w "
         "JOIN moss_py_source AS s ON (w.format, w.size, w.mtime_ns, w.inode) = "
         "(s.format, s.size, s.mtime_ns, s.inode) WHERE w.lines_format = ?")


def write_lines(conn: sqlite3.Connection, best: Sequence[PackageMeta], source_format: int,
                source: os.stat_result) -> None:
    """Fill both tables for ``best`` (``moss_py_best``'s rows), read from ``source``."""
    conn.executescript(SCHEMA)
    versions = [f"{m.version}-{m.release}" for m in best]
    longest_name = max((len(m.name) for m in best), default=0)
    longest_version = max((len(v) for v in versions), default=0)
    nul = any("\0" in m.name or "\0" in v or "\0" in m.summary
              for m, v in zip(best, versions, strict=True))
    conn.execute("INSERT INTO moss_py_widths VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (source_format, source.st_size, source.st_mtime_ns, source.st_ino, FORMAT,
                  len(best), longest_name, longest_version, int(nul)))
    name_width = max(len(NAME), longest_name)
    version_width = max(len(VERSION), longest_version)
    conn.executemany("INSERT INTO moss_py_lines VALUES (?, ?, ?, ?, ?, ?, ?)",
                     ((m.name, f"{m.name.ljust(name_width)}  {v.ljust(version_width)}  ",
                       m.summary, int(not m.summary or m.summary[-1].isspace()), m.release,
                       m.build_release, m.hash) for m, v in zip(best, versions, strict=True)))


def stored_widths(conn: sqlite3.Connection) -> tuple[int, int, int, bool] | None:
    """The rows, longest name and version-release and whether a cell holds a NUL, as
    :func:`write_lines` stored them for the index the database is current for; None
    when the database has none (real moss's, an older moss's) or they do not match."""
    try:
        row = conn.execute(_READ, (FORMAT,)).fetchone()
    except sqlite3.Error:
        return None
    if row is None:
        return None
    rows, name, version, nul = row
    return int(rows), int(name), int(version), bool(nul)
