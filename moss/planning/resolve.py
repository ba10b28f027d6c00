"""Dependency resolution: from names and providers to a plan of packages.

Pure functions on PackageMeta: no I/O, no databases, so they are easy to test
and fast.  A dependency is a provider string (``str(Dependency)``: a bare name,
``soname(libc.so.6(x86_64))``, ``pkgconfig(zlib)``, ``binary(sh)``...).  Every
package provides its own name and what its ``provides`` lists.

Choosing a provider, in order of preference:

1. a package already chosen in this plan;
2. an installed package (``install`` keeps what is there; ``sync`` does not);
3. the repositories, best first: **higher priority number first** (real moss
   orders ``Priority`` by the reversed integer and sorts active repositories by
   it, so ``priority: 10`` beats ``priority: 0``), then the higher release, then
   the higher build release.

Providers are indexed once in dicts, and each package is visited once, so a
closure of thousands of packages out of tens of thousands costs milliseconds.
"""

from __future__ import annotations

from collections.abc import Sequence

from moss.core.errors import MossError
from moss.planning.catalog import Catalog as Catalog
from moss.planning.catalog import provider_keys as provider_keys
from moss.planning.plan import Plan as Plan
from moss.planning.removal import remove as remove
from moss.repo.index import Offer
from moss.stone import PackageMeta
from moss.stone.dependency import KIND_NAMES
from moss.stone.enums import DependencyKind

_NAME = DependencyKind.PACKAGE_NAME


_INSTALLED = "@installed"
LOCAL = "@local"  # the repository of a local ``.stone`` file's offer


def _as_offer(meta: PackageMeta) -> Offer:
    return Offer(meta, _INSTALLED, priority=0)


class _Closure:
    """The working set of one resolution: chosen packages and what they provide."""

    def __init__(self, catalog: Catalog, installed: Sequence[PackageMeta],
                 prefer_installed: bool, upgrade_only: bool) -> None:
        self.catalog = catalog
        self.keys = catalog.keys
        self.prefer_installed = prefer_installed
        self.upgrade_only = upgrade_only
        self.installed_by_name = {m.name: m for m in installed}
        self.installed_providers: dict[str, list[PackageMeta]] = {}
        for meta in installed:
            for key in self.keys.provides(meta):
                self.installed_providers.setdefault(key, []).append(meta)
        self.chosen: dict[str, Offer] = {}
        self.provided: dict[str, str] = {}
        # Why a package is here: name -> (parent name, dependency); roots map to None.
        self.reason: dict[str, tuple[str, str] | None] = {}
        self.todo: list[str] = []
        # What lets check() trust run(): the names whose dependencies run() met, and
        # whether that still holds (a swapped package can take providers away; a
        # provider with the id of the chosen package of its name adds nothing).
        self.walked: set[str] = set()
        self.trusted = True

    def chain(self, name: str, dependency: str | None = None) -> str:
        parts = [dependency] if dependency else []
        current: str | None = name
        seen: set[str] = set()
        while current is not None and current not in seen:
            seen.add(current)
            parts.append(current)
            why = self.reason.get(current)
            current = why[0] if why else None
        return " -> ".join(reversed(parts))

    def choose(self, offer: Offer, reason: tuple[str, str] | None) -> None:
        name = offer.meta.name
        provided = self.provided
        previous = self.chosen.get(name)
        if previous is not None:
            if previous.meta.id == offer.meta.id:
                return
            self.trusted = False
            for key in self.keys.provides(previous.meta):
                if provided.get(key) == name:
                    del provided[key]
        self.chosen[name] = offer
        self.reason.setdefault(name, reason)
        setdefault = provided.setdefault
        for key in self.keys.provides(offer.meta):
            setdefault(key, name)
        self.todo.append(name)

    def _installed_choice(self, key: str) -> PackageMeta | None:
        for meta in self.installed_providers.get(key, ()):
            current = self.chosen.get(meta.name)
            if current is None or current.meta.id == meta.id:
                return meta
        return None

    def keeps_installed(self, offer: Offer) -> bool:
        """With ``upgrade_only`` an installed package is never replaced by an older one."""
        if not self.upgrade_only:
            return False
        mine = self.installed_by_name.get(offer.meta.name)
        new = offer.meta
        return mine is not None and (mine.release, mine.build_release) >= (
            new.release, new.build_release)

    def pick(self, key: str) -> Offer | None:
        """The best provider of ``key`` that does not clash by name with a chosen package."""
        installed_too = bool(self.installed_providers)  # else _installed_choice finds none
        if installed_too and self.prefer_installed:
            meta = self._installed_choice(key)
            if meta is not None:
                return _as_offer(meta)
        chosen = self.chosen
        for offer in self.catalog.providers(key):
            current = chosen.get(offer.meta.name)
            if current is not None and current.repository != _INSTALLED:
                continue  # that name is already settled on a version lacking this provider
            if self.upgrade_only and self.keeps_installed(offer):
                installed = self.installed_by_name[offer.meta.name]
                if key in self.keys.provides(installed):
                    return _as_offer(installed)
                continue
            return offer
        meta = self._installed_choice(key) if installed_too else None
        return _as_offer(meta) if meta is not None else None

    def run(self) -> None:
        """Give every dependency of the packages waiting in ``todo`` a provider.

        With nothing installed and no upgrade-only rule, pick() answers the best
        offer of a key when its name is still free, and choose() only records it:
        that case, nearly every edge of a large closure, is done here without the
        two calls; any other goes through them.  Each walked package's dependencies
        are spelled here, once (``_Keys.depends`` would cache what is never asked
        again), and an offer's provider strings are the catalog's own.
        """
        todo, chosen, provided, walked = self.todo, self.chosen, self.provided, self.walked
        reason, kinds, setdefault = self.reason, KIND_NAMES, provided.setdefault
        offered: dict[str, Offer] = self.catalog.best_offer if (
            not self.installed_providers and not self.upgrade_only) else {}
        stored = self.keys.provides_by_id  # id(meta) -> provider strings, every offer's
        while todo:
            name = todo.pop()
            walked.add(name)
            for d in chosen[name].meta.depends:
                key = d.target if d.kind is _NAME else f"{kinds[d.kind]}({d.target})"
                if key in provided:
                    continue
                offer = offered.get(key)
                if offer is not None:
                    meta = offer.meta
                    new = meta.name
                    if new not in chosen:  # nor in reason: both grow together
                        chosen[new] = offer
                        reason[new] = (name, key)
                        for provider_key in stored[id(meta)]:
                            setdefault(provider_key, new)
                        todo.append(new)
                        continue
                self._settle(name, key)

    def _settle(self, name: str, key: str) -> None:
        """``name`` needs ``key``, which nothing chosen provides: choose its provider."""
        provider = self.pick(key)
        if provider is None:
            raise MossError(f"nothing provides {self.chain(name, key)}")
        self.choose(provider, (name, key))
        if key not in self.provided:
            self.trusted = False

    def check(self) -> None:
        """Every dependency met and no conflict, on the final set.

        While ``trusted`` holds, ``provided`` only grew, so it is the final set's
        provider map and what run() met stays met: only the packages it did not walk
        (the installed ones ``install`` starts from) and conflicts are left to look
        at, in the order of the full check, so the first error is the same one.
        Rebuilding the map and walking every edge again was a third of a resolve.
        """
        if not self.trusted:
            self._check_all()
            return
        provided, walked, depends = self.provided, self.walked, self.keys.depends
        if not self.chosen.keys() - walked:  # the common case: only conflicts are left
            for meta in [o.meta for o in self.chosen.values() if o.meta.conflicts]:
                _check_conflicts(meta, provided)
            return
        for name, offer in self.chosen.items():
            meta = offer.meta
            if name not in walked:
                for key in depends(meta):
                    if key not in provided:
                        raise MossError(f"nothing provides {self.chain(name, key)}")
            if meta.conflicts:
                _check_conflicts(meta, provided)

    def _check_all(self) -> None:
        """The whole final set from scratch (catches providers a swap took away)."""
        final = {name: offer.meta for name, offer in self.chosen.items()}
        providers: dict[str, str] = {}
        for meta in final.values():
            for key in self.keys.provides(meta):
                providers.setdefault(key, meta.name)
        for meta in final.values():
            for key in self.keys.depends(meta):
                if key not in providers:
                    raise MossError(f"nothing provides {self.chain(meta.name, key)}")
            _check_conflicts(meta, providers)


def _check_conflicts(meta: PackageMeta, providers: dict[str, str]) -> None:
    for conflict in meta.conflicts:
        other = providers.get(str(conflict))
        if other is not None and other != meta.name:
            raise MossError(
                f"{meta.name} conflicts with {other} (which provides {conflict}); "
                "they cannot be installed together"
            )


def _plan(
    installed: Sequence[PackageMeta], closure: _Closure, selected: set[str]
) -> Plan:
    plan = Plan(selected=selected)
    chosen = closure.chosen
    if not installed:  # everything is new
        plan.add = [chosen[name] for name in sorted(chosen)]
        return plan
    for name in sorted(chosen):  # names are unique: sorting them alone is the same order
        offer = chosen[name]
        old = closure.installed_by_name.get(name)
        if old is None:
            plan.add.append(offer)
        elif old.id == offer.meta.id:
            plan.keep.append(old)
        else:
            plan.upgrade.append((old, offer))
    plan.remove = sorted(
        (m for m in installed if m.name not in closure.chosen), key=lambda m: m.name
    )
    return plan


def install(
    installed: Sequence[PackageMeta],
    selected: set[str],
    catalog: Catalog,
    names: Sequence[str],
    implicit: Sequence[str] = (),
    local: Sequence[PackageMeta] = (),
) -> Plan:
    """Add ``names`` (package names or provider strings) with what they need.

    ``implicit`` names are resolved the same way but not selected explicitly:
    they are wanted by something else (a subscription) and go when it does.
    ``local`` packages (``.stone`` files given on the command line) are taken as
    they are, explicitly, and what they need comes from the installed packages and
    the repositories, as ``apt install ./x.deb`` does; their offers in the plan
    have the repository :data:`LOCAL`.
    """
    closure = _Closure(catalog, installed, prefer_installed=True, upgrade_only=False)
    for meta in installed:
        closure.choose(_as_offer(meta), None)
    closure.todo.clear()  # installed packages are consistent already
    new_selected = set(selected)
    for meta in local:
        closure.choose(Offer(meta, LOCAL, priority=0), None)
        new_selected.add(meta.name)
    closure.run()
    for name in [*names, *implicit]:
        explicit = name in names
        existing = closure.provided.get(name)
        if existing is not None:
            if explicit:
                new_selected.add(existing)
            continue
        offer = catalog.best(name) or closure.pick(name)
        if offer is None:
            raise MossError(f"no package named or providing {name!r} in the active repositories")
        closure.choose(offer, None)
        if explicit:
            new_selected.add(offer.meta.name)
        closure.run()
    closure.check()
    return _plan(installed, closure, new_selected)


def sync(
    installed: Sequence[PackageMeta],
    selected: set[str],
    catalog: Catalog,
    *,
    upgrade_only: bool = False,
) -> Plan:
    """Bring the selected packages and their closure to what the repositories offer.

    Without ``upgrade_only`` the repositories win even with an older release
    (a pinned or rolled-back repository); with it, nothing is downgraded.
    Packages no repository has are kept as installed; packages nothing needs
    any more are removed.
    """
    closure = _Closure(catalog, installed, prefer_installed=False, upgrade_only=upgrade_only)
    by_name = {m.name: m for m in installed}
    for name in sorted(selected):
        if name not in by_name:
            continue
        offer = catalog.best(name)
        if offer is None or closure.keeps_installed(offer):
            offer = _as_offer(by_name[name])
        closure.choose(offer, None)
    closure.run()
    closure.check()
    return _plan(installed, closure, {n for n in selected if n in by_name})

