"""Removal: the packages named, what needs them, and what only they needed."""

from __future__ import annotations

from collections.abc import Sequence

from moss.core.errors import MossError
from moss.planning.catalog import provider_keys
from moss.planning.plan import Plan
from moss.stone import PackageMeta


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
