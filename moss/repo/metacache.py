"""This moss's own tables in a repository's meta database, so queries skip the index.

Real moss's tables (:mod:`moss.repo.metadb`) cannot give back what the
``stone.index`` said exactly: they key packages by hash (a package without one
is dropped, two with the same one merge), sort providers and add ``name(NAME)``,
and lose the order of dependencies.  ``search``, ``info`` and ``list available``
must answer exactly as from the index, so ``repo update`` also writes, in the same
file, tables that real moss never reads (issue 18):

* ``moss_py_source``: the index this was built from (size, mtime in ns, inode,
  package count), so a query knows the tables are current: an index replaced by
  anything else (real moss, a later update, a hand copy) no longer matches and the
  query parses the index as before;
* ``moss_py_offers``: every package in index order (``seq``) with the columns
  ranking needs and the whole record as JSON (without unmodelled ``extra``
  records, which no query shows);
* ``moss_py_keys``: each package's provider keys (its name and every provides),
  indexed, for ``info NAME`` and ``search -p``;
* ``moss_py_best``: each name's best offer in this repository (highest release, then
  build release, then the first in index order: the Catalog's rank, whose other terms,
  priority and repository id, are the same for the whole file), keyed and so ordered by
  name, with ``str.lower()`` copies of the name and summary: ``list available`` reads it
  in order without sorting or ranking 100 000 offers, and ``search`` matches with
  SQLite's ``instr`` on those copies, which is Python's ``needle in text.lower()``
  exactly (substrings of code points are substrings of their UTF-8), where SQLite's own
  ``lower()`` and ``LIKE`` fold only ASCII;
* ``moss_py_widths`` and ``moss_py_lines``: ``list available``'s rows as it prints them
  (:mod:`moss.repo.metalines`).

Reading opens the file read-only and never writes: queries work on a read-only root.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from moss.repo.metalines import write_lines
from moss.stone import Dependency, DependencyKind, PackageMeta

#: Bumped when these tables change shape: an older file then reads as not current.
FORMAT = 2

SCHEMA = """
CREATE TABLE moss_py_source (format INT NOT NULL, size INT NOT NULL, mtime_ns INT NOT NULL,
    inode INT NOT NULL, packages INT NOT NULL);
CREATE TABLE moss_py_offers (seq INTEGER PRIMARY KEY, name TEXT NOT NULL,
    summary TEXT NOT NULL, version TEXT NOT NULL, release INT NOT NULL,
    build_release INT NOT NULL, hash TEXT, record TEXT NOT NULL);
CREATE TABLE moss_py_keys (key TEXT NOT NULL, seq INT NOT NULL);
CREATE INDEX moss_py_keys_key ON moss_py_keys (key);
CREATE TABLE moss_py_best (name TEXT PRIMARY KEY, version TEXT NOT NULL,
    release INT NOT NULL, build_release INT NOT NULL, summary TEXT NOT NULL, hash TEXT,
    name_lower TEXT NOT NULL, summary_lower TEXT NOT NULL) WITHOUT ROWID;
"""


def _deps(deps: Sequence[Dependency]) -> list[list[object]]:
    return [[int(d.kind), d.target] for d in deps]


def encode(meta: PackageMeta) -> str:
    """The record as JSON: every field a query can show, in the index's order."""
    return json.dumps([meta.name, meta.version, meta.release, meta.build_release,
                       meta.architecture, meta.summary, meta.description, meta.homepage,
                       meta.source_id, meta.licenses, _deps(meta.depends),
                       _deps(meta.provides), _deps(meta.conflicts), meta.uri, meta.hash,
                       meta.size], separators=(",", ":"))


#: Each kind by its number: calling ``DependencyKind(kind)`` was a third of decoding.
_KINDS: dict[int, DependencyKind] = {int(kind): kind for kind in DependencyKind}


def _undeps(items: list[list[Any]]) -> list[Dependency]:
    """The dependencies :func:`_deps` wrote; KeyError on a kind no moss knows."""
    kinds = _KINDS
    return [Dependency(kinds[kind], target) for kind, target in items]


def decode(text: str) -> PackageMeta:
    """The PackageMeta :func:`encode` wrote."""
    return _meta_of(json.loads(text))


def decode_all(records: list[str]) -> list[PackageMeta]:
    """The PackageMetas of many records, parsed as one JSON array: one call into the
    decoder instead of one per record (a quarter of decoding 30 000)."""
    step = 4096  # records per array: the joined text stays a few MB, not the whole index
    return [_meta_of(fields) for start in range(0, len(records), step)
            for fields in json.loads(f"[{','.join(records[start:start + step])}]")]


def _meta_of(fields: list[Any]) -> PackageMeta:
    (name, version, release, build_release, architecture, summary, description, homepage,
     source_id, licenses, depends, provides, conflicts, uri, hash_, size) = fields
    return PackageMeta(name, version, release, build_release, architecture, summary,
                       description, homepage, source_id, list(licenses), _undeps(depends),
                       _undeps(provides), _undeps(conflicts), uri, hash_, size)


def best_by_name(metas: Sequence[PackageMeta]) -> list[PackageMeta]:
    """Each name's best package of one repository: the first of the highest (release,
    build release) in index order, as the Catalog's stable sort ranks them."""
    best: dict[str, PackageMeta] = {}
    for meta in metas:
        held = best.get(meta.name)
        if held is None or (meta.release, meta.build_release) > (held.release,
                                                                  held.build_release):
            best[meta.name] = meta
    return list(best.values())


def write_tables(conn: sqlite3.Connection, metas: Sequence[PackageMeta],
                 source: os.stat_result) -> None:
    """Fill this moss's tables for ``metas``, read from the index ``source`` describes."""
    conn.executescript(SCHEMA)
    conn.execute("INSERT INTO moss_py_source VALUES (?, ?, ?, ?, ?)",
                 (FORMAT, source.st_size, source.st_mtime_ns, source.st_ino, len(metas)))
    conn.executemany("INSERT INTO moss_py_offers VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     ((seq, m.name, m.summary, m.version, m.release, m.build_release, m.hash,
                       encode(m)) for seq, m in enumerate(metas)))
    conn.executemany("INSERT INTO moss_py_keys VALUES (?, ?)",
                     ((key, seq) for seq, m in enumerate(metas)
                      for key in dict.fromkeys([m.name, *(str(p) for p in m.provides)])))
    best = best_by_name(metas)
    conn.executemany("INSERT INTO moss_py_best VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     ((m.name, m.version, m.release, m.build_release, m.summary, m.hash,
                       m.name.lower(), m.summary.lower()) for m in best))
    write_lines(conn, best, FORMAT, source)


def open_current(db: Path, index: Path) -> sqlite3.Connection | None:
    """``db`` opened read-only if its tables were built from ``index`` as it is now, else None."""
    try:
        stat = index.stat()
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    except (OSError, sqlite3.Error):
        return None
    try:
        row = conn.execute("SELECT format, size, mtime_ns, inode FROM moss_py_source").fetchone()
    except sqlite3.Error:
        row = None  # written by real moss or an older moss: no tables of ours
    if row != (FORMAT, stat.st_size, stat.st_mtime_ns, stat.st_ino):
        with contextlib.suppress(sqlite3.Error):
            conn.close()
        return None
    return conn
