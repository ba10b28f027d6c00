"""What a request asks for, resolved to packages, before anything is fetched.

Local ``.stone`` files are taken as given.  Names and ``sync`` are resolved
against the repositories' indexes through providers; a package from a
repository is identified by the sha256 its index gives, which is also the id
moss files it under once downloaded, so the plan can be shown and confirmed
before a single byte is fetched.  Removals take what depends on the removed
packages and what only they needed with them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from moss.core.errors import MossError
from moss.core.progress import Progress
from moss.planning import imported, resolve, sysmodel
from moss.planning.catalog import dependency_keys
from moss.planning.selection import Selected
from moss.planning.sysmodel import SystemModel
from moss.repo import deltalist, metaquery
from moss.repo.cache import Download, cache_root, cached_path, fetch_packages, missing_from_cache
from moss.repo.config import Repository
from moss.repo.index import Offer, downloads_for, load_offers, package_url
from moss.stone import PackageMeta
from moss.store.incoming import IncomingPackage, read_delta_package, read_package


@dataclass
class Wanted:
    install: list[Selected] = field(default_factory=list)
    remove: list[str] = field(default_factory=list)
    local: dict[str, IncomingPackage] = field(default_factory=dict)
    offers: dict[str, Offer] = field(default_factory=dict)
    repositories: list[Repository] = field(default_factory=list)
    # From a system model: exactly these names are explicit in the new state.
    explicit: set[str] | None = None
    # Installed implicitly, now asked for by name: explicit from this state on.
    mark: set[str] = field(default_factory=set)

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
    # Suffixes: each package P of the result brings P-<suffix> where a repository offers it.
    subpackages: Sequence[str] = ()
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
        _refuse_subscribed_subpackages(request)
        plan = resolve.remove(installed, explicit | _subscribed_installed(request),
                              request.remove)
        wanted.remove = [m.name for m in plan.remove]
    if request.model is not None:
        choose_from_model(request, request.model, wanted)
        return wanted
    offered = {key for meta in installed for key in resolve.provider_keys(meta)}
    unmet = [name for name in request.subscribed if name not in offered]
    if request.names or unmet or request.sync or local_needs(request, offered):
        choose_from_repositories(request, wanted, unmet)
    subscribed = list(request.subscribed)
    if request.subpackages:
        wanted, subscribed = _with_subpackages(request, wanted, unmet)
    wanted.remove += sweep_orphans(request.current, wanted, subscribed)
    return wanted


def _refuse_subscribed_subpackages(request: Request) -> None:
    """Removing ``P-<suffix>`` while its toggle is on and P stays would only last
    until the next transaction brings it back: refused, saying what does it."""
    gone = set(request.remove)
    for suffix in request.subpackages:
        for name in request.remove:
            base = name.removesuffix(f"-{suffix}")
            if base == name or base not in request.current or base in gone:
                continue
            if offered_names(request.root, [name]):  # else nothing would bring it back
                raise MossError(f"{name} comes with {base} while the subscription bringing "
                                f"every -{suffix} is on: turn it off "
                                "(`moss subscription list`), or remove " + base)


def _subscribed_installed(request: Request) -> set[str]:
    """Installed packages the active subscriptions want: a removal keeps them as it
    keeps what the user chose (sweep_orphans lets go those it no longer wants)."""
    providers: dict[str, str] = {}
    for meta in request.installed:
        for key in resolve.provider_keys(meta):
            providers.setdefault(key, meta.name)
    wanted = {providers[n] for n in request.subscribed if n in providers}
    subpackages = subpackage_names(request.current, request.subpackages)
    return wanted | {n for n in subpackages if n in request.current}


def _with_subpackages(request: Request, wanted: Wanted, unmet: Sequence[str]
                      ) -> tuple[Wanted, list[str]]:
    """``wanted`` grown by each resulting package's offered ``P-<suffix>``, and the
    subscribed names that keep them (those of the packages that stay).

    A subpackage may need packages that have subpackages of their own, so this
    resolves again until nothing new is offered; each round only adds names.
    """
    extra: list[str] = []
    while True:
        result = _result_names(request.current, wanted)
        wants = subpackage_names(result, request.subpackages)
        absent = [n for n in wants if n not in result and n not in extra]
        names = offered_names(request.root, absent)
        missing = [n for n in absent if n in names]
        if not missing:
            return wanted, [*request.subscribed, *wants]
        extra += missing
        again = Wanted(local=wanted.local, install=[s for s in wanted.install
                                                    if s.id in wanted.local])
        if request.remove:
            again.remove = list(wanted.remove)
        choose_from_repositories(request, again, [*unmet, *extra])
        wanted = again


def offered_names(root: Path, names: Collection[str]) -> set[str]:
    """Those of ``names`` the active repositories offer: from their meta databases,
    or their indexes when a database is missing or stale."""
    if not names:
        return set()
    repositories = sysmodel.repositories(root)
    found = metaquery.offered_among(root, repositories, sorted(names))
    if found is None:
        found = {o.meta.name for o in load_offers(root, repositories)} & set(names)
    return found


def subpackage_names(names: Collection[str], suffixes: Sequence[str]) -> list[str]:
    """``P-<suffix>`` for each package P and suffix, P not itself such a subpackage."""
    ends = tuple(f"-{s}" for s in suffixes)
    return sorted(f"{n}-{s}" for n in names if not n.endswith(ends) for s in suffixes)


def _result_names(current: Mapping[str, Selected], wanted: Wanted) -> set[str]:
    names = {n for n in current if n not in wanted.remove}
    return names | {s.meta.name for s in wanted.install}


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
    offers = metaquery.load_offers(request.root, wanted.repositories)
    if not offers and (request.names or unmet or request.sync):
        raise MossError("no repository index to install from: add one with "
                        "`moss repo add NAME URI`, then `moss repo update`")
    catalog = resolve.Catalog(offers)
    if request.sync:
        plan = resolve.sync(installed, explicit, catalog, upgrade_only=request.upgrade_only)
    else:
        plan = resolve.install(installed, explicit, catalog, request.names, implicit=unmet,
                               local=[p.meta for p in request.local])
        wanted.mark = {n for n in plan.selected - explicit if n in request.current}
    _take(wanted, plan, explicit)
    wanted.remove += [m.name for m in plan.remove if m.name not in wanted.remove]


def choose_from_model(request: Request, model: SystemModel, wanted: Wanted) -> None:
    """The model's packages from the model's own (active) repositories, nothing else."""
    wanted.repositories = [r for r in model.repositories if r.active]
    catalog = resolve.Catalog(metaquery.load_offers(request.root, wanted.repositories))
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


def fetch(root: Path, wanted: Wanted, cache: Path | None, progress: Progress,
          has_package: Callable[[str], bool] = lambda _id: False,
          warn: Callable[[str], None] = lambda _line: None) -> list[IncomingPackage]:
    """Download (or find cached) the repository packages, and read every package.

    A package not cached whose repository lists a delta from a package this root
    has (``has_package``: its blobs are in the store) comes as that delta
    (:mod:`moss.repo.deltalist`); one that cannot be fetched falls back to the full
    package, with one line to ``warn``.
    """
    packages = list(wanted.local.values())
    if not wanted.offers:
        return packages
    folder = cache_root(root, cache)
    downloads = {d.sha256.lower(): d for d in downloads_for(
        wanted.repositories, list(wanted.offers.values()))}
    missing = {d.sha256.lower() for d in missing_from_cache(list(downloads.values()), folder)}
    deltas = _fetch_deltas(root, wanted, folder, progress, has_package, warn,
                           {sha: downloads[sha] for sha in missing})
    full = [d for sha, d in downloads.items() if sha not in deltas]
    paths = fetch_packages(full, folder, progress)
    for sha, offer in wanted.offers.items():
        if sha in deltas:
            packages.append(read_delta_package(deltas[sha], sha, offer.meta,
                                               partial(_full_package, downloads[sha], folder)))
        else:
            packages.append(_checked_package(paths[sha], sha))
    return packages


def _checked_package(path: Path, sha: str) -> IncomingPackage:
    package = read_package(path)
    if package.id != sha:
        raise MossError(f"{path}: sha256 {package.id} is not the index's {sha}")
    return package


def _full_package(download: Download, folder: Path) -> IncomingPackage:
    """The full package, when its delta did not apply."""
    paths = fetch_packages([download], folder)
    return _checked_package(paths[download.sha256.lower()], download.sha256.lower())


def _fetch_deltas(root: Path, wanted: Wanted, folder: Path, progress: Progress,
                  has_package: Callable[[str], bool], warn: Callable[[str], None],
                  missing: dict[str, Download]) -> dict[str, Path]:
    """Package id -> downloaded delta, for the missing packages that have one from a
    package this root has; a delta that cannot be fetched leaves its package out."""
    by_repo = {r.id: r for r in wanted.repositories}
    chosen: dict[str, Download] = {}
    for sha, download in missing.items():
        repo = by_repo[wanted.offers[sha].repository]
        for entry in deltalist.load(root, repo).get(sha, []):
            if has_package(entry.base) and entry.size < (wanted.offers[sha].meta.size or 0):
                chosen[sha] = Download(f"{download.name} (delta)",
                                       package_url(repo, entry.uri), entry.hash, entry.size)
                break
    found: dict[str, Path] = {}
    for sha, delta in chosen.items():
        try:
            found[sha] = fetch_packages([delta], folder, progress)[delta.sha256.lower()]
        except MossError as exc:
            warn(f"the delta for {delta.name.removesuffix(' (delta)')} could not be fetched "
                 f"({exc}); fetching the full package")
    return found
