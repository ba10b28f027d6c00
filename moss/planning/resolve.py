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
from dataclasses import dataclass, field

from moss.core.errors import MossError
from moss.planning.catalog import Catalog as Catalog
from moss.planning.catalog import provider_keys as provider_keys
from moss.repo.index import Offer
from moss.stone import PackageMeta


@dataclass
class Plan:
    """What a transaction will do; ``selected`` are the explicit names afterwards."""

    add: list[Offer] = field(default_factory=list)
    remove: list[PackageMeta] = field(default_factory=list)
    upgrade: list[tuple[PackageMeta, Offer]] = field(default_factory=list)
    keep: list[PackageMeta] = field(default_factory=list)
    selected: set[str] = field(default_factory=set)

    @property
    def changes(self) -> bool:
        return bool(self.add or self.remove or self.upgrade)

    def final(self) -> list[PackageMeta]:
        """Every package of the resulting state, sorted by name."""
        metas = [*self.keep, *(o.meta for o in self.add), *(o.meta for _, o in self.upgrade)]
        return sorted(metas, key=lambda m: m.name)


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
        for offer in self.catalog.by_provider.get(key, ()):
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
        two calls; any other goes through them.
        """
        todo, chosen, provided, walked = self.todo, self.chosen, self.provided, self.walked
        depends, provides, reason = self.keys.depends, self.keys.provides, self.reason
        offered = self.catalog.by_provider
        plain = not self.installed_providers and not self.upgrade_only
        while todo:
            name = todo.pop()
            walked.add(name)
            for key in depends(chosen[name].meta):
                if key in provided:
                    continue
                found = offered.get(key) if plain else None
                if found and found[0].meta.name not in chosen:
                    offer = found[0]
                    new = offer.meta.name
                    chosen[new] = offer
                    reason.setdefault(new, (name, key))
                    for provider_key in provides(offer.meta):
                        provided.setdefault(provider_key, new)
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


def remove(
    installed: Sequence[PackageMeta], selected: set[str], names: Sequence[str]
) -> Plan:
    """Remove ``names``, what needs them, and what only they needed (unless selected).

    Like real moss, removing a package also removes the installed packages that
    depend on it: the alternative is a state with broken dependencies.
    """
    by_name = {m.name: m for m in installed}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise MossError(f"not installed: {', '.join(missing)}")
    providers: dict[str, set[str]] = {}
    for meta in installed:
        for key in provider_keys(meta):
            providers.setdefault(key, set()).add(meta.name)
    gone = _with_broken_dependents(by_name, providers, set(names))
    remaining_selected = {n for n in selected if n in by_name and n not in gone}
    reached = _reached_from(by_name, providers, gone, remaining_selected)
    plan = Plan(selected=remaining_selected)
    for meta in sorted(installed, key=lambda m: m.name):
        if meta.name in reached:
            plan.keep.append(meta)
        else:
            plan.remove.append(meta)
    return plan


def _with_broken_dependents(by_name: dict[str, PackageMeta], providers: dict[str, set[str]],
                            gone: set[str]) -> set[str]:
    """``gone`` and every package that a dependency with no provider left would break."""
    dependents: dict[str, set[str]] = {}
    for meta in by_name.values():
        for dep in meta.depends:
            for provider in providers.get(str(dep), ()):
                dependents.setdefault(provider, set()).add(meta.name)
    gone = set(gone)
    todo = list(gone)
    while todo:
        name = todo.pop()
        for user in dependents.get(name, ()):
            if user in gone:
                continue
            broken = any(
                not (providers.get(str(dep), set()) - gone) for dep in by_name[user].depends
            )
            if broken:
                gone.add(user)
                todo.append(user)
    return gone


def _reached_from(by_name: dict[str, PackageMeta], providers: dict[str, set[str]],
                  gone: set[str], roots: set[str]) -> set[str]:
    """What the remaining selected packages need; anything else is an orphan."""
    reached: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in reached:
            continue
        reached.add(name)
        for dep in by_name[name].depends:
            candidates = sorted(providers.get(str(dep), set()) - gone)
            if candidates and not any(c in reached for c in candidates):
                stack.append(candidates[0])
    return reached


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

