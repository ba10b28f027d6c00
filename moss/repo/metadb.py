"""Real moss's repository meta database, ``.moss/repo/<hash>/db``, written beside the index.

Real moss reads a repository's packages from this SQLite file, not from the
``stone.index`` beside it, and fetches again only when the index is missing.
So when this moss updates an index in real moss's folder it writes the
database too, or real moss taking the root over would see the repository
empty.  Schema and values as real moss's ``db/meta`` (schema v1,
``PRAGMA user_version = 1``): the package id is the ``.stone``'s sha256, and
dependencies and providers are written as ``kind(target)``, the package's own
name included as ``name(NAME)``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from moss.repo.metacache import write_tables
from moss.stone import Dependency, DependencyKind, PackageMeta

DB_NAME = "db"
_COLUMNS = {"meta_licenses": "license", "meta_dependencies": "dependency",
            "meta_providers": "provider", "meta_conflicts": "conflict"}
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    package TEXT NOT NULL PRIMARY KEY, name TEXT NOT NULL, version_identifier TEXT NOT NULL,
    source_release INT NOT NULL, build_release INT NOT NULL, architecture TEXT NOT NULL,
    summary TEXT NOT NULL, description TEXT NOT NULL, source_id TEXT NOT NULL,
    homepage TEXT NOT NULL, uri TEXT NULL, hash TEXT NULL, download_size BIGINT NULL);
CREATE TABLE IF NOT EXISTS meta_licenses (package TEXT NOT NULL, license TEXT NOT NULL,
    PRIMARY KEY (package, license),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS meta_dependencies (package TEXT NOT NULL, dependency TEXT NOT NULL,
    PRIMARY KEY (package, dependency),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS meta_providers (package TEXT NOT NULL, provider TEXT NOT NULL,
    PRIMARY KEY (package, provider),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE);
CREATE TABLE IF NOT EXISTS meta_conflicts (package TEXT NOT NULL, conflict TEXT NOT NULL,
    PRIMARY KEY (package, conflict),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE);
PRAGMA user_version = 1;
"""


def real_text(dep: Dependency) -> str:
    """Real moss's ``Display`` of a dependency or provider: always ``kind(target)``."""
    return f"name({dep.target})" if dep.kind is DependencyKind.PACKAGE_NAME else str(dep)


def _rows(meta: PackageMeta) -> tuple[tuple[object, ...], list[tuple[str, str, str]]]:
    pkg = (meta.hash or "").lower()
    row = (pkg, meta.name, meta.version, meta.release, meta.build_release, meta.architecture,
           meta.summary, meta.description, meta.source_id, meta.homepage, meta.uri,
           meta.hash, meta.size)
    links = [("meta_licenses", pkg, lic) for lic in meta.licenses]
    links += [("meta_dependencies", pkg, real_text(d)) for d in meta.depends]
    providers = {real_text(p) for p in meta.provides} | {f"name({meta.name})"}
    links += [("meta_providers", pkg, p) for p in sorted(providers)]
    links += [("meta_conflicts", pkg, real_text(c)) for c in meta.conflicts]
    return row, links


def write_meta_db(folder: Path, metas: Sequence[PackageMeta],
                  source: os.stat_result | None = None) -> None:
    """Replace ``folder/db`` with these packages (those the index gives a hash), atomically.

    With ``source``, the stat of the index ``metas`` were read from, this moss's own
    tables go in too (:mod:`moss.repo.metacache`): what queries read instead of the index.
    """
    scratch = folder / f".{DB_NAME}.new"
    scratch.unlink(missing_ok=True)
    conn = sqlite3.connect(scratch)
    try:
        conn.executescript(SCHEMA)
        if source is not None:
            write_tables(conn, metas, source)
        for meta in metas:
            if not meta.hash:
                continue  # real moss keys a repository package by its hash
            row, links = _rows(meta)
            conn.execute("INSERT OR REPLACE INTO meta VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)", row)
            for table, pkg, value in links:
                conn.execute(f"INSERT OR IGNORE INTO {table} (package, {_COLUMNS[table]}) "
                             "VALUES (?, ?)", (pkg, value))
        conn.commit()
    finally:
        conn.close()
    for stale in ("-wal", "-shm", "-journal"):  # never let an old journal meet the new file
        with contextlib.suppress(FileNotFoundError):
            os.unlink(folder / f"{DB_NAME}{stale}")
    os.replace(scratch, folder / DB_NAME)
