"""The install database: the meta of every package moss has seen in this root.

Real moss's ``meta`` schema, filled as real moss fills it: rows are keyed by
the package id (the sha256 of its ``.stone``), so two builds with the same name
and version never collide, and dependencies, providers and conflicts are
``kind(target)`` strings.  A row does not mean the package is selected: states
select packages, and ``state prune`` drops unused rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from moss.db import REBUILD_HINT, DatabaseError, open_database, rowcheck
from moss.stone import Dependency, PackageMeta
from moss.stone.dependency import KIND_NAMES

# Real moss's schema, verbatim (AerynOS/os-tools moss/src/db/meta/schemas/v1_up.sql).
MIGRATIONS = [
    """
-- SPDX-FileCopyrightText: 2024 AerynOS Developers
-- SPDX-License-Identifier: MPL-2.0

CREATE TABLE IF NOT EXISTS meta (
    package TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    version_identifier TEXT NOT NULL,
    source_release INT NOT NULL,
    build_release INT NOT NULL,
    architecture TEXT NOT NULL,
    summary TEXT NOT NULL,
    description TEXT NOT NULL,
    source_id TEXT NOT NULL,
    homepage TEXT NOT NULL,
    uri TEXT NULL,
    hash TEXT NULL,
    download_size BIGINT NULL
);

CREATE TABLE IF NOT EXISTS meta_licenses (
    package TEXT NOT NULL,
    license TEXT NOT NULL,
    PRIMARY KEY (package, license),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS meta_dependencies (
    package TEXT NOT NULL,
    dependency TEXT NOT NULL,
    PRIMARY KEY (package, dependency),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS meta_providers (
    package TEXT NOT NULL,
    provider TEXT NOT NULL,
    PRIMARY KEY (package, provider),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);

CREATE TABLE IF NOT EXISTS meta_conflicts (
    package TEXT NOT NULL,
    conflict TEXT NOT NULL,
    PRIMARY KEY (package, conflict),
    FOREIGN KEY (package) REFERENCES meta(package) ON DELETE CASCADE
);
    """,
]

# The text columns of ``get``'s row, by position (2, 3 and 11 are integers, 9 and 10
# may be NULL).
_TEXT_COLUMNS = {0: "name", 1: "version_identifier", 4: "architecture", 5: "summary",
                 6: "description", 7: "homepage", 8: "source_id"}
_LISTS = (("meta_licenses", "license"), ("meta_dependencies", "dependency"),
          ("meta_providers", "provider"), ("meta_conflicts", "conflict"))


def _meta_of(row: Sequence[object], lists: dict[str, list[object]]) -> PackageMeta:
    """A ``meta`` row and its lists as moss uses them, every value checked first."""
    t, n = rowcheck.text, rowcheck.integer
    texts = [t(row[i], column) for i, column in _TEXT_COLUMNS.items()]
    strings = {table: [t(v, table) for v in values] for table, values in lists.items()}
    return PackageMeta(
        name=texts[0], version=texts[1], release=n(row[2], "source_release"),
        build_release=n(row[3], "build_release"), architecture=texts[2], summary=texts[3],
        description=texts[4], homepage=texts[5], source_id=texts[6],
        uri=rowcheck.optional_text(row[9], "uri"), hash=rowcheck.optional_text(row[10], "hash"),
        size=rowcheck.optional_integer(row[11], "download_size"),
        licenses=strings["meta_licenses"],
        depends=[Dependency.parse(d) for d in strings["meta_dependencies"]],
        provides=[Dependency.parse(p) for p in strings["meta_providers"]],
        conflicts=[Dependency.parse(c) for c in strings["meta_conflicts"]],
    )


def db_form(dependency: Dependency) -> str:
    """``kind(target)`` always, as real moss writes and parses it (``name(bash)``)."""
    return f"{KIND_NAMES[dependency.kind]}({dependency.target})"


class InstallDB:
    def __init__(self, path: Path, *, writable: bool = True, refuse_blank: bool = False) -> None:
        self.path = path
        self.conn = open_database(path, MIGRATIONS, writable=writable, refuse_blank=refuse_blank)

    def close(self) -> None:
        self.conn.close()

    def has(self, package: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM meta WHERE package = ?", (package,)).fetchone()
        return row is not None

    def add(self, package: str, meta: PackageMeta) -> None:
        """Record ``meta`` under ``package``; replaces an earlier row of the same id."""
        self.add_packages([(package, meta)])

    def add_packages(self, packages: Sequence[tuple[str, PackageMeta]]) -> None:
        """:meth:`add` for each, in one commit: a transaction's packages cost one
        journal flush, not one each."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for package, meta in packages:
                self._insert(package, meta)

    def _insert(self, package: str, meta: PackageMeta) -> None:
        self._delete(package)
        self.conn.execute(
            "INSERT INTO meta (package, name, version_identifier, source_release,"
            " build_release, architecture, summary, description, source_id, homepage,"
            " uri, hash, download_size) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (package, meta.name, meta.version, meta.release, meta.build_release,
             meta.architecture, meta.summary, meta.description, meta.source_id,
             meta.homepage, meta.uri, meta.hash, meta.size),
        )
        values: dict[str, list[str]] = {
            "meta_licenses": list(meta.licenses),
            "meta_dependencies": [db_form(d) for d in meta.depends],
            "meta_providers": [db_form(p) for p in meta.provides],
            "meta_conflicts": [db_form(c) for c in meta.conflicts],
        }
        for table, column in _LISTS:
            self.conn.executemany(
                f"INSERT OR IGNORE INTO {table} (package, {column}) VALUES (?, ?)",
                [(package, v) for v in values[table]],
            )

    def get(self, package: str) -> PackageMeta | None:
        row = self.conn.execute(
            "SELECT name, version_identifier, source_release, build_release, architecture,"
            " summary, description, homepage, source_id, uri, hash, download_size"
            " FROM meta WHERE package = ?",
            (package,),
        ).fetchone()
        if row is None:
            return None
        lists = {
            table: [r[0] for r in self.conn.execute(
                f"SELECT {column} FROM {table} WHERE package = ? ORDER BY rowid", (package,))]
            for table, column in _LISTS
        }
        try:
            return _meta_of(row, lists)
        except ValueError as exc:  # BadValue, or a dependency that does not parse
            raise DatabaseError(
                f"database {self.path}: package {package}: {exc}; {REBUILD_HINT}") from exc

    def all_packages(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT package FROM meta ORDER BY name")]

    def remove(self, packages: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for package in packages:
                self._delete(package)

    def _delete(self, package: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE package = ?", (package,))

