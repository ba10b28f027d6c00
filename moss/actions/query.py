"""Read-only questions about a root: what is installed, and what a package holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moss.core.root import Root, read_state_id
from moss.db.databases import databases
from moss.planning.resolve import Catalog, upgrades
from moss.planning.selection import Selected, selection_of
from moss.planning.sysmodel import repositories
from moss.repo import metaquery
from moss.repo.index import load_offers
from moss.stone import FileKind, LayoutEntry


@dataclass(frozen=True)
class InstalledPackage:
    id: str
    name: str
    version: str
    release: int
    summary: str
    explicit: bool

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "name": self.name, "version": self.version,
                "release": self.release, "summary": self.summary, "explicit": self.explicit}


def installed(root_path: Path) -> list[InstalledPackage]:
    root = Root(root_path)
    if not root.db.is_dir():
        return []  # nothing installed; and a query must not create databases
    with databases(root) as dbs:
        selected = selection_of(dbs, read_state_id(root.usr))
    return [_installed(s) for s in sorted(selected.values(), key=lambda s: s.meta.name)]


def package_layout(root_path: Path, package_id: str) -> list[LayoutEntry]:
    """The layout an installed package put in place (``info --files``)."""
    with databases(Root(root_path)) as dbs:
        return dbs.layout.entries(package_id)


@dataclass(frozen=True)
class AvailablePackage:
    name: str
    version: str
    release: int
    summary: str
    repository: str
    installed: bool

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "version": self.version, "release": self.release,
                "summary": self.summary, "repository": self.repository,
                "installed": self.installed}


def available(root_path: Path) -> list[AvailablePackage]:
    """The best offer of each name across the active repositories."""
    return _available(root_path, None)[0]


def _available(root_path: Path, matches: Callable[[str, str], bool] | None
               ) -> tuple[list[AvailablePackage], set[str]]:
    """:func:`available`, and every name offered; from the meta databases when current.

    With ``matches`` (name, summary), a name none of whose offers matches is left out of
    the list (the best offer cannot match either): ``search`` ranks only the rest.
    """
    installed_ids = {p.id for p in installed(root_path)}
    repos = repositories(root_path)
    rows = metaquery.listings(root_path, repos)
    if rows is not None:
        offered = {row.name for row in rows}
        if matches is not None:
            wanted = {row.name for row in rows if matches(row.name, row.summary)}
            rows = [row for row in rows if row.name in wanted]
        return _best_listed(rows, installed_ids), offered
    catalog = Catalog(load_offers(root_path, repos))
    result = []
    for name in sorted(catalog.by_name):
        offer = catalog.by_name[name][0]
        meta = offer.meta
        result.append(AvailablePackage(meta.name, meta.version, meta.release, meta.summary,
                                       offer.repository, (meta.hash or "") in installed_ids))
    return result, set(catalog.by_name)


def _best_listed(rows: list[metaquery.Listing], installed_ids: set[str]) -> list[AvailablePackage]:
    """What :func:`available` answers from the meta databases, without building a Catalog.

    The rank is the Catalog's (``moss.planning.resolve._rank``: priority, release, build
    release, repository id) and, as its stable sort, the first of equals in load order wins.
    """
    best: dict[str, tuple[tuple[int, int, int, str], metaquery.Listing]] = {}
    for row in rows:
        rank = (-row.priority, -row.release, -row.build_release, row.repository)
        held = best.get(row.name)
        if held is None or rank < held[0]:
            best[row.name] = (rank, row)
    return [AvailablePackage(row.name, row.version, row.release, row.summary, row.repository,
                             (row.hash or "") in installed_ids)
            for _, row in (best[name] for name in sorted(best))]


def pending_upgrades(root_path: Path) -> list[tuple[InstalledPackage, AvailablePackage]]:
    """Installed packages that a repository offers in a newer release (``list sync``)."""
    root = Root(root_path)
    if not root.db.is_dir():
        return []
    with databases(root) as dbs:
        current = selection_of(dbs, read_state_id(root.usr))
    catalog = Catalog(load_offers(root_path, repositories(root_path)))
    rows = []
    for meta, offer in upgrades([s.meta for s in current.values()], catalog):
        new = offer.meta
        rows.append((_installed(current[meta.name]),
                     AvailablePackage(new.name, new.version, new.release, new.summary,
                                      offer.repository, False)))
    return rows


def search(root_path: Path, keyword: str) -> list[AvailablePackage]:
    """Packages whose name or summary holds ``keyword``, installed or available."""
    needle = keyword.lower()

    def matches(name: str, summary: str) -> bool:
        return needle in name.lower() or needle in summary.lower()

    listed, offered = _available(root_path, matches)
    found = {p.name: p for p in listed}
    for p in installed(root_path):
        if p.name not in offered:  # an offered name shows its best offer, matching or not
            found[p.name] = AvailablePackage(p.name, p.version, p.release, p.summary,
                                             "@installed", True)
    return [p for name, p in sorted(found.items()) if matches(name, p.summary)]


def search_file(root_path: Path, pattern: str) -> list[tuple[str, str]]:
    """(package, /usr path) for every installed file whose path contains ``pattern``."""
    root = Root(root_path)
    needle = pattern.removeprefix("/usr/").lstrip("/")
    if not root.db.is_dir():
        return []
    with databases(root) as dbs:
        current = selection_of(dbs, read_state_id(root.usr))
        return sorted(
            (s.meta.name, f"/usr/{entry.target}")
            for s in current.values() for entry in dbs.layout.entries(s.id)
            if needle in entry.target
        )


def filtered_paths(root_path: Path, state_id: int | None = None) -> dict[str, str]:
    """Targets the active (or given) state left out on purpose, with why (subscriptions)."""
    root = Root(root_path)
    with databases(root) as dbs:
        state = state_id if state_id is not None else read_state_id(root.usr)
        return {} if state is None else dbs.state.filtered(state)


def describe_entry(entry: LayoutEntry) -> str:
    if entry.file_kind == FileKind.SYMLINK:
        return f"/usr/{entry.target} -> {entry.source!s}"
    return f"/usr/{entry.target}"


def _installed(s: Selected) -> InstalledPackage:
    return InstalledPackage(s.id, s.meta.name, s.meta.version, s.meta.release, s.meta.summary,
                            s.explicit)
