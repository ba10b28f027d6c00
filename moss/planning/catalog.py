"""What the repositories offer, indexed by provider string, for resolution.

A provider string is ``str(Dependency)`` (a bare name, ``soname(libc.so.6(x86_64))``,
``pkgconfig(zlib)``...); every package provides its own name too.  Building the
index is half the cost of resolving against a large repository, and every object it
leaves behind is one more for the cyclic GC to scan: a list per provider string
(~90 000 for 30 000 packages) set off a full collection in most fresh resolves.  So
the index is built by comprehensions and ``dict(zip(...))`` in C, keeps one offer
per provider string (``best``), and makes lists only for the strings that two offers
or more provide (``_crowded``), in the order a per-offer walk would give them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cached_property

from moss.repo.index import Offer
from moss.stone import PackageMeta
from moss.stone.dependency import KIND_NAMES, Dependency
from moss.stone.enums import DependencyKind

_NAME = DependencyKind.PACKAGE_NAME


def dependency_keys(dependencies: Iterable[Dependency]) -> tuple[str, ...]:
    """``str(d)`` of each dependency, spelled inline: a method call per provide and
    per dependency was a fifth of indexing a large repository."""
    return tuple([d.target if d.kind is _NAME else f"{KIND_NAMES[d.kind]}({d.target})"
                  for d in dependencies])


def provider_keys(meta: PackageMeta) -> list[str]:
    return [meta.name, *dependency_keys(meta.provides)]


def _rank(offer: Offer) -> tuple[int, int, int, str]:
    meta = offer.meta
    return (-offer.priority, -meta.release, -meta.build_release, offer.repository)


class _Keys:
    """Provider strings per package, computed once: ``str(Dependency)`` dominates otherwise.

    ``provides`` starts with what the catalog computed for its offers' metas (keyed
    by ``id``, valid while the catalog keeps them alive); other metas (installed
    ones) are computed on first use and kept alive here.
    """

    def __init__(self, provides: dict[int, tuple[str, ...]] | None = None) -> None:
        self.provides_by_id: dict[int, tuple[str, ...]] = provides if provides is not None else {}
        self._depends: dict[int, tuple[str, ...]] = {}
        self._keep: list[PackageMeta] = []  # ids stay valid while the metas live

    def provides(self, meta: PackageMeta) -> tuple[str, ...]:
        found = self.provides_by_id.get(id(meta))
        if found is None:
            found = self.provides_by_id[id(meta)] = (meta.name, *dependency_keys(meta.provides))
            self._keep.append(meta)
        return found

    def depends(self, meta: PackageMeta) -> tuple[str, ...]:
        found = self._depends.get(id(meta))
        if found is None:
            found = self._depends[id(meta)] = dependency_keys(meta.depends)
            self._keep.append(meta)
        return found


def _key_tuples(metas: list[PackageMeta]) -> list[tuple[str, ...]]:
    """``(name, *provides)`` of each meta, as ``_Keys.provides`` spells them."""
    kinds = KIND_NAMES
    return [(meta.name, *[d.target if d.kind is _NAME else f"{kinds[d.kind]}({d.target})"
                          for d in meta.provides]) for meta in metas]


def _crowded_lists(offers: list[Offer], tuples: list[tuple[str, ...]],
                   crowded: set[str]) -> dict[str, list[Offer]]:
    """Every offer of each crowded key, best first; ties keep the per-offer walk's order."""
    lists: dict[str, list[Offer]] = {key: [] for key in crowded}
    for offer, keys in zip(offers, tuples, strict=True):
        for key in keys:
            found = lists.get(key)
            if found is not None:
                found.append(offer)
    for found in lists.values():
        found.sort(key=_rank)  # stable: equal ranks stay in walk order
    return lists


class Catalog:
    """What the repositories offer, indexed by provider; build once per transaction.

    ``best(key)`` reads ``best_offer``: the best offer providing ``key`` (``_rank``);
    ``providers(key)`` lists every offer providing it, best first, and
    ``by_provider`` is that listing for every key, built on first use (listings and
    lookups ask for it; resolution does not).  ``by_name`` is built likewise: offers
    named ``name`` come first in ``providers(name)`` in the same order (a stable
    sort keeps any subsequence's order).
    """

    def __init__(self, offers: Iterable[Offer]) -> None:
        self._offers = offers = list(offers)  # keeps the metas alive: keys are by id
        metas = [offer.meta for offer in offers]
        tuples = _key_tuples(metas)
        self.keys = _Keys(dict(zip(map(id, metas), tuples, strict=True)))
        keys = [key for keys in tuples for key in keys]
        owners = [offer for offer, keys in zip(offers, tuples, strict=True) for _ in keys]
        # Reversed, so that the first offer of a key is the one that stays.
        self.best_offer: dict[str, Offer] = dict(
            zip(reversed(keys), reversed(owners), strict=True))
        self._crowded: dict[str, list[Offer]] = {}
        if len(self.best_offer) != len(keys):  # some key has two offers or more
            crowded = {key for key, count in Counter(keys).items() if count > 1}
            self._crowded = _crowded_lists(offers, tuples, crowded)
            self.best_offer.update((key, found[0]) for key, found in self._crowded.items())

    def providers(self, key: str) -> Sequence[Offer]:
        """Every offer providing ``key``, best first (empty when none does)."""
        found = self._crowded.get(key)
        if found is not None:
            return found
        offer = self.best_offer.get(key)
        return () if offer is None else (offer,)

    @cached_property
    def by_provider(self) -> dict[str, list[Offer]]:
        """Every offer by provider string, best first."""
        by_provider: dict[str, list[Offer]] = {}
        for offer in self._offers:  # keys in the order of a per-offer walk
            for key in self.keys.provides(offer.meta):
                if key not in by_provider:
                    by_provider[key] = list(self.providers(key))
        return by_provider

    @cached_property
    def by_name(self) -> dict[str, list[Offer]]:
        """Every offer by package name, best first."""
        by_name: dict[str, list[Offer]] = {}
        for offer in self._offers:
            by_name.setdefault(offer.meta.name, []).append(offer)
        for offers_list in by_name.values():
            if len(offers_list) > 1:
                offers_list.sort(key=_rank)
        return by_name

    def best(self, name: str) -> Offer | None:
        """The best offer named ``name`` (an offer merely providing it does not count)."""
        for offer in self.providers(name):
            if offer.meta.name == name:
                return offer
        return None
