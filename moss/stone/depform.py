"""How a dependency or provider is spelled, ``kind(target)`` or a bare package name,
without the classes: shared by :class:`moss.stone.dependency.Dependency` and the
``info`` that loads no dataclasses (:mod:`moss.actions.quickinfo`, issue 27), so both
accept, refuse and show the same strings."""

from __future__ import annotations

import re

#: The spelling real moss uses for each kind in ``kind(target)``, by the kind's number
#: (:class:`moss.stone.enums.DependencyKind`).
KIND_SPELLINGS = ("name", "soname", "pkgconfig", "interpreter", "cmake", "python", "binary",
                  "sysbinary", "pkgconfig32")
_BY_SPELLING = {name: number for number, name in enumerate(KIND_SPELLINGS)}
_FORM = re.compile(r"^([a-z0-9]+)\((.+)\)$")
_BARE = re.compile(r"^[^\s()\x00]+$")


def parse(text: str) -> tuple[int, str]:
    """``soname(libc.so.6(x86_64))`` or a bare package name as (kind number, target);
    ValueError on junk."""
    text = text.strip()
    match = _FORM.match(text)
    if match:
        kind = _BY_SPELLING.get(match.group(1))
        if kind is None:
            raise ValueError(f"unknown dependency kind {match.group(1)!r} in {text!r}")
        if "\0" in match.group(2):
            raise ValueError(f"NUL in dependency {text!r}")
        return kind, match.group(2)
    if not _BARE.match(text):
        raise ValueError(f"not a dependency: {text!r} (expected name or kind(target))")
    return 0, text


def shown(kind: int, target: str) -> str:
    """How moss shows it: a package name bare, any other kind as ``kind(target)``."""
    return target if kind == 0 else f"{KIND_SPELLINGS[kind]}({target})"
