"""What the repositories offer, indexed by provider string, for resolution.

A provider string is ``str(Dependency)`` (a bare name, ``soname(libc.so.6(x86_64))``,
``pkgconfig(zlib)``...); every package provides its own name too.  Building the
index is half the cost of resolving against a large repository, so the keys are
spelled inline, computed once per package, and lists of one offer are not sorted.
"""

from __future__ import annotations

from collections.abc import Iterable

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
    """What the repositories offer, indexed by provider; build once per transaction."""

    def __init__(self, offers: Iterable[Offer]) -> None:
        self.keys = _Keys()
        self.by_provider: dict[str, list[Offer]] = {}
        self.by_name: dict[str, list[Offer]] = {}
        by_provider, by_name, provides = self.by_provider, self.by_name, self.keys.provides
        for offer in offers:  # the hot loop of a fresh catalog: no calls but provides()
            keys = provides(offer.meta)
            found = by_name.get(keys[0])
            if found is None:
                by_name[keys[0]] = [offer]
            else:
                found.append(offer)
            for key in keys:
                found = by_provider.get(key)
                if found is None:
                    by_provider[key] = [offer]
                else:
                    found.append(offer)
        for group in (by_provider, by_name):
            for offers_list in group.values():
                if len(offers_list) > 1:  # most providers have one offer: nothing to rank
                    offers_list.sort(key=_rank)

    def best(self, name: str) -> Offer | None:
        found = self.by_name.get(name)
        return found[0] if found else None
