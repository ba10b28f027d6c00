"""What the repositories offer, indexed by provider string, for resolution.

A provider string is ``str(Dependency)`` (a bare name, ``soname(libc.so.6(x86_64))``,
``pkgconfig(zlib)``...); every package provides its own name too.  Building the
index is half the cost of resolving against a large repository, so the keys are
spelled inline, computed once per package, and lists of one offer are not sorted.
"""

from __future__ import annotations

from collections.abc import Iterable
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
    """Provider strings per package, computed once: ``str(Dependency)`` dominates otherwise."""

    def __init__(self) -> None:
        self._provides: dict[int, tuple[str, ...]] = {}
        self._depends: dict[int, tuple[str, ...]] = {}
        self._keep: list[PackageMeta] = []  # ids stay valid while the metas live

    def provides(self, meta: PackageMeta) -> tuple[str, ...]:
        found = self._provides.get(id(meta))
        if found is None:
            found = self._provides[id(meta)] = (meta.name, *dependency_keys(meta.provides))
            self._keep.append(meta)
        return found

    def depends(self, meta: PackageMeta) -> tuple[str, ...]:
        found = self._depends.get(id(meta))
        if found is None:
            found = self._depends[id(meta)] = dependency_keys(meta.depends)
            self._keep.append(meta)
        return found


class Catalog:
    """What the repositories offer, indexed by provider; build once per transaction.

    ``by_provider[key]`` lists every offer providing ``key`` (its name included),
    best first (``_rank``); ``by_name`` is built from the offers on first use, as
    only listings need it: ``best`` reads ``by_provider``, whose offers named
    ``name`` come in the same order (a stable sort keeps any subsequence's order).
    """

    def __init__(self, offers: Iterable[Offer]) -> None:
        self.keys = _Keys()
        self._offers = list(offers)  # keeps the metas alive: the keys are stored by id
        self.by_provider: dict[str, list[Offer]] = {}
        by_provider, stored = self.by_provider, self.keys._provides  # its cache, filled here
        crowded: set[str] = set()  # keys with two offers or more: only those need a sort
        for offer in self._offers:  # the hot loop of a fresh catalog: no calls
            meta = offer.meta
            keys = stored.get(id(meta))
            if keys is None:  # _Keys.provides, inlined
                keys = stored[id(meta)] = (meta.name, *[
                    d.target if d.kind is _NAME else f"{KIND_NAMES[d.kind]}({d.target})"
                    for d in meta.provides])
            for key in keys:
                found = by_provider.get(key)
                if found is None:
                    by_provider[key] = [offer]
                else:
                    found.append(offer)
                    crowded.add(key)
        for key in crowded:
            by_provider[key].sort(key=_rank)

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
        for offer in self.by_provider.get(name, ()):
            if offer.meta.name == name:
                return offer
        return None
