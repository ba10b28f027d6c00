"""The plan of a transaction: what resolution hands to the transaction code."""

from __future__ import annotations

from dataclasses import dataclass, field

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
