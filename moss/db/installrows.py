"""A package's ``meta`` row and its lists as moss reads them, every value checked:
shared by :class:`moss.db.install.InstallDB` and the ``info`` that loads no
dataclasses (:mod:`moss.actions.quickinfo`, issue 27), so both read and refuse the
same rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from moss.db import REBUILD_HINT, DatabaseError, rowcheck
from moss.stone import depform

META_ROW = ("SELECT name, version_identifier, source_release, build_release, architecture,"
            " summary, description, homepage, source_id, uri, hash, download_size"
            " FROM meta WHERE package = ?")
# The text columns of META_ROW, by position (2, 3 and 11 are integers, 9 and 10 may be
# NULL).
_TEXT_COLUMNS = {0: "name", 1: "version_identifier", 4: "architecture", 5: "summary",
                 6: "description", 7: "homepage", 8: "source_id"}
LISTS = (("meta_licenses", "license"), ("meta_dependencies", "dependency"),
         ("meta_providers", "provider"), ("meta_conflicts", "conflict"))

Deps = list[tuple[int, str]]
#: name, version, release, build release, architecture, summary, description, homepage,
#: source id, uri, hash, size, licenses, then depends, provides and conflicts as
#: (kind number, target) pairs (:func:`moss.stone.depform.parse`).
MetaFields = tuple[str, str, int, int, str, str, str, str, str, "str | None", "str | None",
                   "int | None", list[str], Deps, Deps, Deps]


def read_meta(conn: sqlite3.Connection, path: Path, package: str) -> MetaFields | None:
    """Package ``package``'s fields; None if there is no such row; a value moss cannot
    use is a DatabaseError naming the database and the package."""
    row = conn.execute(META_ROW, (package,)).fetchone()
    if row is None:
        return None
    lists = [[r[0] for r in conn.execute(
        f"SELECT {column} FROM {table} WHERE package = ? ORDER BY rowid", (package,))]
        for table, column in LISTS]
    try:
        return meta_fields(row, lists)
    except ValueError as exc:  # BadValue, or a dependency that does not parse
        raise DatabaseError(
            f"database {path}: package {package}: {exc}; {REBUILD_HINT}") from exc


def meta_fields(row: tuple[object, ...], lists: list[list[object]]) -> MetaFields:
    """A :data:`META_ROW` row and its :data:`LISTS` values, checked; ValueError if one
    is outside what moss can use."""
    t, n = rowcheck.text, rowcheck.integer
    texts = [t(row[i], column) for i, column in _TEXT_COLUMNS.items()]
    licenses, depends, provides, conflicts = (
        [t(v, table) for v in values] for (table, _), values in zip(LISTS, lists, strict=True))
    return (texts[0], texts[1], n(row[2], "source_release"), n(row[3], "build_release"),
            texts[2], texts[3], texts[4], texts[5], texts[6],
            rowcheck.optional_text(row[9], "uri"), rowcheck.optional_text(row[10], "hash"),
            rowcheck.optional_integer(row[11], "download_size"), licenses,
            [depform.parse(d) for d in depends], [depform.parse(p) for p in provides],
            [depform.parse(c) for c in conflicts])
