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

from moss.db import installrows, open_database, schemas
from moss.stone import Dependency, DependencyKind, PackageMeta
from moss.stone.dependency import KIND_NAMES

MIGRATIONS = schemas.INSTALL

def _meta_of(fields: installrows.MetaFields) -> PackageMeta:
    """The checked fields as moss uses them."""
    (name, version, release, build_release, architecture, summary, description, homepage,
     source_id, uri, hash_, size, licenses, depends, provides, conflicts) = fields
    return PackageMeta(
        name=name, version=version, release=release, build_release=build_release,
        architecture=architecture, summary=summary, description=description,
        homepage=homepage, source_id=source_id, uri=uri, hash=hash_, size=size,
        licenses=licenses, depends=_deps(depends), provides=_deps(provides),
        conflicts=_deps(conflicts))


def _deps(pairs: installrows.Deps) -> list[Dependency]:
    return [Dependency(DependencyKind(kind), target) for kind, target in pairs]


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
        for table, column in installrows.LISTS:
            self.conn.executemany(
                f"INSERT OR IGNORE INTO {table} (package, {column}) VALUES (?, ?)",
                [(package, v) for v in values[table]],
            )

    def get(self, package: str) -> PackageMeta | None:
        fields = installrows.read_meta(self.conn, self.path, package)
        return None if fields is None else _meta_of(fields)

    def all_packages(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT package FROM meta ORDER BY name")]

    def remove(self, packages: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for package in packages:
                self._delete(package)

    def _delete(self, package: str) -> None:
        self.conn.execute("DELETE FROM meta WHERE package = ?", (package,))

