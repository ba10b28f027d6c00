"""Dependencies and providers, written ``kind(target)`` (a bare name is a package)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from moss.stone.enums import DependencyKind

#: The spelling real moss uses for each kind in ``kind(target)``.
KIND_NAMES: dict[DependencyKind, str] = {
    DependencyKind.PACKAGE_NAME: "name",
    DependencyKind.SONAME: "soname",
    DependencyKind.PKGCONFIG: "pkgconfig",
    DependencyKind.INTERPRETER: "interpreter",
    DependencyKind.CMAKE: "cmake",
    DependencyKind.PYTHON: "python",
    DependencyKind.BINARY: "binary",
    DependencyKind.SYSBINARY: "sysbinary",
    DependencyKind.PKGCONFIG32: "pkgconfig32",
}
_BY_NAME = {name: kind for kind, name in KIND_NAMES.items()}
_FORM = re.compile(r"^([a-z0-9]+)\((.+)\)$")
_BARE = re.compile(r"^[^\s()\x00]+$")


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
        """``soname(libc.so.6(x86_64))`` or a bare package name; ValueError on junk."""
        text = text.strip()
        match = _FORM.match(text)
        if match:
            kind = _BY_NAME.get(match.group(1))
            if kind is None:
                raise ValueError(f"unknown dependency kind {match.group(1)!r} in {text!r}")
            if "\0" in match.group(2):
                raise ValueError(f"NUL in dependency {text!r}")
            return cls(kind, match.group(2))
        if not _BARE.match(text):
            raise ValueError(f"not a dependency: {text!r} (expected name or kind(target))")
        return cls(DependencyKind.PACKAGE_NAME, text)
