"""Dependencies and providers, written ``kind(target)`` (a bare name is a package)."""

from __future__ import annotations

from dataclasses import dataclass

from moss.stone import depform
from moss.stone.enums import DependencyKind

#: The spelling real moss uses for each kind in ``kind(target)``.
KIND_NAMES: dict[DependencyKind, str] = {kind: depform.KIND_SPELLINGS[kind]
                                         for kind in DependencyKind}


@dataclass(frozen=True)
class Dependency:
    kind: DependencyKind
    target: str

    def __str__(self) -> str:
        if self.kind is DependencyKind.PACKAGE_NAME:
            return self.target
        return f"{KIND_NAMES[self.kind]}({self.target})"

    @classmethod
    def parse(cls, text: str) -> Dependency:
        """``soname(libc.so.6(x86_64))`` or a bare package name; ValueError on junk
        (:func:`moss.stone.depform.parse`)."""
        kind, target = depform.parse(text)
        return cls(DependencyKind(kind), target)
