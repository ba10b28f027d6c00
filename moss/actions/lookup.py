"""Packages found by name or provider, installed and available: real moss's
``info NAME...`` and ``search -i`` / ``search -p[=KIND]``.

A NAME is a package name or a provider string (``binary(hello)``,
``soname(libz.so.1(x86_64))``); a package matches when it is called NAME or
provides it, exactly, as real moss's ``lookup_packages_by_provider``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from moss.core.configfiles import config_files, system_folders
from moss.core.root import Root, read_state_id
from moss.db.databases import databases
from moss.planning.selection import Selected, selection_of

if TYPE_CHECKING:
    from moss.stone import PackageMeta

# moss.repo.config.DOMAIN, not imported from there: that module loads yaml and ckdl.
REPO_DOMAIN = "repo"


@dataclass(frozen=True)
class Candidate:
    """One package that answers a NAME: installed (``repository`` None) or offered."""

    meta: PackageMeta
    installed: bool
    repository: str | None = None
    selected: Selected | None = None


def _installed(root_path: Path) -> list[Selected]:
    root = Root(root_path)
    if not root.db.is_dir():
        return []  # a query must not create databases
    with databases(root) as dbs:
        return list(selection_of(dbs, read_state_id(root.usr)).values())


def answers(meta: PackageMeta, name: str) -> bool:
    """Whether ``meta`` is called ``name`` or provides it: ``name`` is one of
    :func:`moss.planning.resolve.provider_keys`, without loading the resolver."""
    return name == meta.name or any(str(p) == name for p in meta.provides)


def candidates(root_path: Path, name: str, *, installed_only: bool = False) -> list[Candidate]:
    """Installed packages first, then each other offer (best first) that answers ``name``."""
    found = [Candidate(s.meta, True, None, s) for s in _installed(root_path)
             if answers(s.meta, name)]
    found.sort(key=lambda c: c.meta.name)
    if installed_only or not config_files(system_folders(root_path), REPO_DOMAIN):
        return found  # no repository configured: nothing is offered (issue 18: start-up)
    have = {(c.meta.name, c.meta.version, c.meta.release) for c in found}
    return found + _offers(root_path, name, have)


def _offers(root_path: Path, name: str, have: set[tuple[str, str, int]]) -> list[Candidate]:
    """Each offer (best first) answering ``name`` that is not installed, one per package."""
    from moss.planning.resolve import Catalog
    from moss.repo import metaquery
    from moss.repo.config import load_repositories
    from moss.repo.index import load_offers

    repos = load_repositories(root_path)
    # From the meta databases, only the offers that answer ``name``: the Catalog ranks
    # them as it would among all of them (None: a database is missing or stale).
    answering = metaquery.offers_providing(root_path, repos, name)
    catalog = Catalog(answering if answering is not None else load_offers(root_path, repos))
    seen: set[str] = set()
    offers = []
    for offer in catalog.providers(name):
        meta = offer.meta
        if meta.name in seen or (meta.name, meta.version, meta.release) in have:
            continue
        seen.add(meta.name)
        offers.append(Candidate(meta, False, offer.repository))
    return offers


def details(meta: PackageMeta) -> dict[str, object]:
    """What ``info`` shows of a package, the same for installed and offered ones."""
    return {
        "name": meta.name, "version": meta.version, "release": meta.release,
        "build_release": meta.build_release, "architecture": meta.architecture,
        "summary": meta.summary, "description": meta.description, "homepage": meta.homepage,
        "licenses": meta.licenses, "depends": [str(d) for d in meta.depends],
        "provides": [str(p) for p in meta.provides],
        "conflicts": [str(c) for c in meta.conflicts],
    }


def state_selections(root_path: Path, state_id: int) -> list[Selected]:
    """The packages of one state, by name (``state query``); [] for nothing installed."""
    root = Root(root_path)
    if not root.db.is_dir():
        return []
    with databases(root) as dbs:
        return sorted(selection_of(dbs, state_id).values(), key=lambda s: s.meta.name)
