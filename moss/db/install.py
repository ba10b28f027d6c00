"""The install database: the meta of every package moss has seen in this root.

Rows are keyed by the package id (the sha256 of its ``.stone``), so two builds
with the same name and version never collide.  A row does not mean the package
is selected: states select packages, and ``state prune`` drops unused rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from moss.db import open_database
from moss.stone import Dependency, PackageMeta

MIGRATIONS = [
    """
    CREATE TABLE meta (
        package TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        release INTEGER NOT NULL,
        build_release INTEGER NOT NULL,
        architecture TEXT NOT NULL,
        summary TEXT NOT NULL,
        description TEXT NOT NULL,
        homepage TEXT NOT NULL,
        source_id TEXT NOT NULL,
        uri TEXT,
        hash TEXT,
        size INTEGER
    );
    CREATE TABLE licenses (package TEXT NOT NULL REFERENCES meta(package) ON DELETE CASCADE,
                           license TEXT NOT NULL);
    CREATE TABLE depends (package TEXT NOT NULL REFERENCES meta(package) ON DELETE CASCADE,
                          dependency TEXT NOT NULL);
    CREATE TABLE provides (package TEXT NOT NULL REFERENCES meta(package) ON DELETE CASCADE,
                           provider TEXT NOT NULL);
    CREATE TABLE conflicts (package TEXT NOT NULL REFERENCES meta(package) ON DELETE CASCADE,
                            conflict TEXT NOT NULL);
    CREATE INDEX licenses_package ON licenses(package);
    CREATE INDEX depends_package ON depends(package);
    CREATE INDEX provides_package ON provides(package);
    CREATE INDEX provides_provider ON provides(provider);
    CREATE INDEX conflicts_package ON conflicts(package);
    CREATE INDEX meta_name ON meta(name)
    """,
]

_LISTS = (("licenses", "license"), ("depends", "dependency"), ("provides", "provider"),
          ("conflicts", "conflict"))


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
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self._delete(package)
            self.conn.execute(
                "INSERT INTO meta VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (package, meta.name, meta.version, meta.release, meta.build_release,
                 meta.architecture, meta.summary, meta.description, meta.homepage,
                 meta.source_id, meta.uri, meta.hash, meta.size),
            )
            values: dict[str, list[str]] = {
                "licenses": list(meta.licenses),
                "depends": [str(d) for d in meta.depends],
                "provides": [str(p) for p in meta.provides],
                "conflicts": [str(c) for c in meta.conflicts],
            }
            for table, column in _LISTS:
                self.conn.executemany(
                    f"INSERT INTO {table} (package, {column}) VALUES (?, ?)",
                    [(package, v) for v in values[table]],
                )

    def get(self, package: str) -> PackageMeta | None:
        row = self.conn.execute(
            "SELECT name, version, release, build_release, architecture, summary, description,"
            " homepage, source_id, uri, hash, size FROM meta WHERE package = ?",
            (package,),
        ).fetchone()
        if row is None:
            return None
        lists = {
            table: [r[0] for r in self.conn.execute(
                f"SELECT {column} FROM {table} WHERE package = ? ORDER BY rowid", (package,))]
            for table, column in _LISTS
        }
        return PackageMeta(
            name=row[0], version=row[1], release=row[2], build_release=row[3],
            architecture=row[4], summary=row[5], description=row[6], homepage=row[7],
            source_id=row[8], uri=row[9], hash=row[10], size=row[11],
            licenses=lists["licenses"],
            depends=[Dependency.parse(d) for d in lists["depends"]],
            provides=[Dependency.parse(p) for p in lists["provides"]],
            conflicts=[Dependency.parse(c) for c in lists["conflicts"]],
        )

    def all_packages(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT package FROM meta ORDER BY name")]

    def remove(self, packages: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for package in packages:
                self._delete(package)

    def _delete(self, package: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE package = ?", (package,))

