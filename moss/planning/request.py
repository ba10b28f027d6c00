"""What a request asks for, resolved to packages, before anything is fetched.

Local ``.stone`` files are taken as given.  Names and ``sync`` are resolved
against the repositories' indexes through providers; a package from a
repository is identified by the sha256 its index gives, which is also the id
moss files it under once downloaded, so the plan can be shown and confirmed
before a single byte is fetched.  Removals take what depends on the removed
packages and what only they needed with them.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.errors import MossError
from moss.core.progress import Progress
from moss.planning import imported, resolve, sysmodel
from moss.planning.catalog import dependency_keys
from moss.planning.selection import Selected
from moss.planning.sysmodel import SystemModel
from moss.repo.cache import cache_root, cached_path, fetch_packages
from moss.repo.config import Repository
from moss.repo.index import Offer, downloads_for, load_offers
from moss.stone import PackageMeta
from moss.store.incoming import IncomingPackage, read_package


@dataclass
class Wanted:
    install: list[Selected] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    local: dict[str, IncomingPackage] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    repositories: list[Repository] = field(default_factory=list)
    # From a system model: exactly these names are explicit in the new state.
    explicit: set[str] | None = None

    def download_size(self, cache: Path) -> int:
        return sum(o.meta.size or 0 for sha, o in self.offers.items()
                   if not cached_path(cache, sha).exists())


@dataclass(frozen=True)
class Request:
    """What a transaction asks of the repositories, and what it starts from."""

    root: Path
    current: Mapping[str, Selected]  # the selection the new state builds on
    local: Sequence[IncomingPackage] = ()  # local .stone files, taken as given
    names: Sequence[str] = ()  # names or providers to install from the repositories
    subscribed: Sequence[str] = ()  # what the active subscriptions add, implicitly
    remove: Sequence[str] = ()
    sync: bool = False  # bring everything to what the repositories offer
    upgrade_only: bool = False  # with sync: never downgrade
    model: SystemModel | None = None  # sync to exactly this model (``sync --import``)

    @property
    def installed(self) -> list[PackageMeta]:
        return [s.meta for s in self.current.values()]

    @property
    def explicit(self) -> set[str]:
        """Names the user asked for, as opposed to what came in as a dependency."""
        return {s.meta.name for s in self.current.values() if s.explicit}


def resolve_request(request: Request) -> Wanted:
    """The packages to add and remove for ``request``, before anything is fetched."""
    wanted = Wanted(local={p.id: p for p in request.local})
    wanted.install = [Selected(p.id, p.meta, explicit=True) for p in request.local]
    installed, explicit = request.installed, request.explicit
    if request.remove:
        plan = resolve.remove(installed, explicit, request.remove)
        wanted.remove = [m.name for m in plan.remove]
    if request.model is not None:
        choose_from_model(request, request.model, wanted)
        return wanted
    offered = {key for meta in installed for key in resolve.provider_keys(meta)}
    unmet = [name for name in request.subscribed if name not in offered]
    if request.names or unmet or request.sync or local_needs(request, offered):
        choose_from_repositories(request, wanted, unmet)
    wanted.remove += sweep_orphans(request.current, wanted, request.subscribed)
    return wanted


def local_needs(request: Request, offered: Collection[str]) -> bool:
    """Whether a local ``.stone`` needs something that neither the installed packages
    nor the other local files provide: then the repositories are asked for it."""
    local = {key for p in request.local for key in resolve.provider_keys(p.meta)}
    return any(key not in offered and key not in local
               for p in request.local for key in dependency_keys(p.meta.depends))


def choose_from_repositories(request: Request, wanted: Wanted, unmet: Sequence[str]) -> None:
    """Resolve names, unmet subscriptions, a sync or what local files need against
    the indexes, into ``wanted``."""
    installed, explicit = request.installed, request.explicit
    wanted.repositories = sysmodel.repositories(request.root)
    offers = load_offers(request.root, wanted.repositories)
    if not offers and (request.names or unmet or request.sync):
        raise MossError("no repository index to install from: add one with "
                        "`moss repo add NAME URI`, then `moss repo update`")
    catalog = resolve.Catalog(offers)
    if request.sync:
        plan = resolve.sync(installed, explicit, catalog, upgrade_only=request.upgrade_only)
    else:
        plan = resolve.install(installed, explicit, catalog, request.names, implicit=unmet,
                               local=[p.meta for p in request.local])
    _take(wanted, plan, explicit)
    wanted.remove += [m.name for m in plan.remove if m.name not in wanted.remove]


def choose_from_model(request: Request, model: SystemModel, wanted: Wanted) -> None:
    """The model's packages from the model's own (active) repositories, nothing else."""
    wanted.repositories = [r for r in model.repositories if r.active]
    catalog = resolve.Catalog(load_offers(request.root, wanted.repositories))
    plan = imported.exactly(request.installed, catalog, model.packages)
    _take(wanted, plan)
    wanted.explicit = set(plan.selected)


def _take(wanted: Wanted, plan: resolve.Plan, explicit: Collection[str] = ()) -> None:
    """A plan's additions and upgrades into ``wanted`` (each by its index's sha256);
    explicit are the names asked for and the plan's own selected ones."""
    for offer in [*plan.add, *(offer for _old, offer in plan.upgrade)]:
        if offer.repository == resolve.LOCAL:
            continue  # a local file: in ``wanted`` already, as given
        if not offer.meta.hash:
            raise MossError(f"{offer.meta.name}: the index of {offer.repository!r} "
                            "gives no PackageHash")
        sha = offer.meta.hash.lower()
        wanted.offers[sha] = offer
        name = offer.meta.name
        wanted.install.append(Selected(sha, offer.meta, name in explicit
                                       or name in plan.selected))
    wanted.remove += [m.name for m in plan.remove if m.name not in wanted.remove]


def sweep_orphans(current: Mapping[str, Selected], wanted: Wanted,
                  subscribed: Sequence[str]) -> list[str]:
    """Implicit packages of the resulting selection that nothing wants any more.

    What an explicit package needs stays, and so does what a subscription adds;
    a package a subscription brought in goes when that subscription is off.
    """
    result = {name: s for name, s in current.items() if name not in wanted.remove}
    result.update({s.meta.name: s for s in wanted.install})
    providers: dict[str, str] = {}
    for s in result.values():
        for key in resolve.provider_keys(s.meta):
            providers.setdefault(key, s.meta.name)
    roots = {name for name, s in result.items() if s.explicit}
    roots |= {providers[name] for name in subscribed if name in providers}
    plan = resolve.remove([s.meta for s in result.values()], roots, [])
    return [m.name for m in plan.remove if m.name in current]


def fetch(root: Path, wanted: Wanted, cache: Path | None, progress: Progress
          ) -> list[IncomingPackage]:
    """Download (or find cached) the repository packages, and read every package."""
    packages = list(wanted.local.values())
    if wanted.offers:
        offers = list(wanted.offers.values())
        paths = fetch_packages(downloads_for(wanted.repositories, offers),
                               cache_root(root, cache), progress)
        for sha in wanted.offers:
            package = read_package(paths[sha])
            if package.id != sha:
                raise MossError(f"{paths[sha]}: sha256 {package.id} is not the index's {sha}")
            packages.append(package)
    return packages
