"""Read-only questions about a root: what is installed, and what a package holds."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from moss.core.root import Root, read_state_id
from moss.db.databases import databases
from moss.planning.selection import Selected, selection_of
from moss.planning.sysmodel import repositories
from moss.repo import metaquery
from moss.stone import FileKind, LayoutEntry

if TYPE_CHECKING:
    from moss.repo.config import Repository


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


class AvailablePackage(NamedTuple):
    """An offer as ``list available`` and ``search`` show it.

    A named tuple: ``list available`` makes 100 000 of them, and a frozen dataclass
    costs several times as much to build."""

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
    """The best offer of each name across the active repositories, by name; from the
    meta databases when they are current (ranked there already), else the indexes."""
    installed_ids = {p.id for p in installed(root_path)}
    repos = repositories(root_path)
    rows = metaquery.best_listings(root_path, repos)
    if rows is None:
        return _parsed(root_path, repos, installed_ids)[0]
    return _listed(rows, installed_ids)


def available_table(root_path: Path) -> list[tuple[str, ...]]:
    """:func:`available` as ``list available`` prints it: name, version-release,
    repository, "installed" or "", summary (and columns after those to ignore).

    From the meta databases SQLite builds these rows: 100 000 offers then cost no
    Python object each but the row (issue 18)."""
    installed_ids = {p.id for p in installed(root_path)}
    repos = repositories(root_path)
    rows = metaquery.best_table(root_path, repos, installed_ids)
    if rows is not None:
        return rows
    return [table_row(p) for p in _parsed(root_path, repos, installed_ids)[0]]


def available_text(root_path: Path) -> str | None:
    """``list available``'s whole table as printed, from the meta databases in one
    string built by SQLite (:func:`moss.repo.metatable.table_text`, issue 27); None
    when they cannot answer (:func:`available_table` then gives the rows)."""
    from moss.repo.metatable import table_text

    installed_ids = {p.id for p in installed(root_path)}
    return table_text(root_path, repositories(root_path), installed_ids)


def table_row(p: AvailablePackage) -> tuple[str, str, str, str, str]:
    """How ``list available`` and ``search`` show an offer."""
    return (p.name, f"{p.version}-{p.release}", p.repository,
            "installed" if p.installed else "", p.summary)


def _listed(rows: list[metaquery.Listed], installed_ids: set[str]) -> list[AvailablePackage]:
    return [AvailablePackage(name, version, release, summary, repository,
                             (hash_ or "") in installed_ids)
            for name, version, release, summary, repository, hash_, *_ in rows]


def _parsed(root_path: Path, repos: list[Repository], installed_ids: set[str]
            ) -> tuple[list[AvailablePackage], set[str]]:
    """:func:`available` from the parsed indexes, and every name offered."""
    from moss.planning.resolve import Catalog  # only when a meta database cannot answer
    from moss.repo.index import load_offers

    catalog = Catalog(load_offers(root_path, repos))
    result = []
    for name in sorted(catalog.by_name):
        offer = catalog.by_name[name][0]
        meta = offer.meta
        result.append(AvailablePackage(meta.name, meta.version, meta.release, meta.summary,
                                       offer.repository, (meta.hash or "") in installed_ids))
    return result, set(catalog.by_name)


@dataclass(frozen=True)
class ReleaseChange:
    """One row of ``list sync``: an installed package the sync would move to another
    release, up or (from a higher-priority or rolled-back repository) down."""

    old: InstalledPackage
    new: AvailablePackage
    downgrade: bool


def pending_changes(root_path: Path, upgrade_only: bool = False) -> list[ReleaseChange]:
    """Every release change ``sync`` would make (``list sync``), downgrades included,
    as real moss lists them: the sync's own plan, so the listing and the plan agree."""
    root = Root(root_path)
    if not root.db.is_dir():
        return []
    with databases(root) as dbs:
        current = selection_of(dbs, read_state_id(root.usr))
    from moss.planning.resolve import Catalog, sync

    catalog = Catalog(metaquery.load_offers(root_path, repositories(root_path)))
    plan = sync([s.meta for s in current.values()],
                {name for name, s in current.items() if s.explicit}, catalog,
                upgrade_only=upgrade_only)
    rows = []
    for meta, offer in sorted(plan.upgrade, key=lambda change: change[0].name):
        new = offer.meta
        rows.append(ReleaseChange(
            _installed(current[meta.name]),
            AvailablePackage(new.name, new.version, new.release, new.summary,
                             offer.repository, False),
            (new.release, new.build_release) < (meta.release, meta.build_release)))
    return rows


def search(root_path: Path, keyword: str) -> list[AvailablePackage]:
    """Packages whose name or summary holds ``keyword``, installed or available.

    Matching is ``keyword.lower() in text.lower()``; the meta databases keep the
    lowered texts, so SQLite answers it exactly (:mod:`moss.repo.metacache`).
    """
    needle = keyword.lower()

    def matches(name: str, summary: str) -> bool:
        return needle in name.lower() or needle in summary.lower()

    mine = installed(root_path)
    installed_ids = {p.id for p in mine}
    repos = repositories(root_path)
    answer = metaquery.search_listings(root_path, repos, needle, [p.name for p in mine])
    if answer is None:
        listed, offered = _parsed(root_path, repos, installed_ids)
    else:
        listed, offered = _listed(answer[0], installed_ids), answer[1]
    found = {p.name: p for p in listed}
    for p in mine:
        if p.name not in offered:  # an offered name shows its best offer, matching or not
            found[p.name] = AvailablePackage(p.name, p.version, p.release, p.summary,
                                             "@installed", True)
    return [p for name, p in sorted(found.items()) if matches(name, p.summary)]


def search_file(root_path: Path, pattern: str) -> list[tuple[str, str]]:
    """(package, /usr path) for every installed file whose path contains ``pattern``.

    As real moss, the longest leading part of ``/usr/`` that ``pattern`` starts with
    is dropped first (``/usr/bin/x``, ``usr/bin/x``, ``r/bin/x`` and ``/bin/x`` all ask
    for ``bin/x``): layouts record paths below ``/usr``.
    """
    root = Root(root_path)
    needle = pattern
    for start in range(len("/usr/")):
        if pattern.startswith("/usr/"[start:]):
            needle = pattern[len("/usr/") - start:]
            break
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
