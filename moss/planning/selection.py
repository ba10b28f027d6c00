"""Which packages a new state holds: the base state's selection, changed.

Packages are selected by name: installing a package whose name is already
selected replaces it (an upgrade or a downgrade).  Conflicts declared by any
package stop the transaction with both names; real moss only warns, but a
state that contains two conflicting packages is a broken state.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from moss.core.errors import MossError
from moss.db.databases import Databases
from moss.db.state import Selection
from moss.stone import DependencyKind, PackageMeta


@dataclass(frozen=True)
class Selected:
    id: str
    meta: PackageMeta
    explicit: bool


@dataclass
class Change:
    """The difference between the base state and the new one, for the plan display."""

    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    replaced: list[tuple[str, str]] = field(default_factory=list)
    # Installed as a dependency or by a subscription, now asked for by name: it
    # stays when what brought it goes (``subscription remove devel``).
    marked: list[str] = field(default_factory=list)
    download_size: int = 0
    # Bytes the store and the download cache grow by, as far as known before downloading,
    # and how many packages' files that leaves out (their content is known once fetched).
    disk_size: int = 0
    disk_unknown: int = 0
    # Labels to mark in the plan: added packages nobody asked for by name (pulled in
    # as dependencies), and replacements to an older release.
    dependencies: set[str] = field(default_factory=set)
    downgrades: set[str] = field(default_factory=set)
    carried: str = ""  # what happens to a pending state this one builds on

    def is_empty(self) -> bool:
        return not (self.added or self.removed or self.replaced or self.marked)


def selection_of(dbs: Databases, state_id: int | None) -> dict[str, Selected]:
    """The packages of a state, by name."""
    if state_id is None:
        return {}
    record = dbs.state.get(state_id)
    if record is None:
        return {}
    selected = {}
    for sel in record.selections:
        meta = dbs.install.get(sel.package)
        if meta is None:
            raise MossError(f"state {state_id} selects package {sel.package} with no metadata")
        selected[meta.name] = Selected(sel.package, meta, sel.explicit)
    return selected


def apply_changes(
    base: Mapping[str, Selected],
    install: Iterable[Selected],
    remove: Iterable[str],
    mark: Iterable[str] = (),
) -> tuple[dict[str, Selected], Change]:
    """``base`` with ``remove`` gone and ``install`` in; ``mark`` are installed names
    the user asked for, which become explicit."""
    new = dict(base)
    change = Change()
    for name in remove:
        if name not in new:
            raise MossError(f"cannot remove {name}: it is not installed")
        change.removed.append(_label(new.pop(name).meta))
    marked = set(mark)
    for package in install:
        name = package.meta.name
        old = new.get(name)
        if old is not None and old.id == package.id:
            if package.explicit:
                marked.add(name)
            continue
        explicit = package.explicit or (old is not None and old.explicit)
        new[name] = Selected(package.id, package.meta, explicit)
        label = _label(package.meta)
        if old is None:
            change.added.append(label)
            if not explicit:
                change.dependencies.add(label)
        else:
            change.replaced.append((_label(old.meta), label))
            if (package.meta.release, package.meta.build_release) < (
                    old.meta.release, old.meta.build_release):
                change.downgrades.add(label)
    for name in sorted(marked):
        old = new.get(name)
        if old is not None and not old.explicit:
            new[name] = Selected(old.id, old.meta, True)
            change.marked.append(_label(old.meta))
    check_conflicts(new.values())
    check_dependencies(new.values())
    return new, change


def check_dependencies(selected: Iterable[Selected]) -> None:
    """Refuse a selection where a dependency has no provider, whatever the request.

    The resolver meets every dependency it walks, but a state is the last word:
    a state with an unmet dependency would make every later plan fail (issue 25),
    so the new selection is checked as a whole before anything is built.
    """
    # Here, not at the top: queries read selections and must not load the index code.
    from moss.planning.catalog import dependency_keys, provider_keys

    items = sorted(selected, key=lambda s: s.meta.name)
    provided = {key for item in items for key in provider_keys(item.meta)}
    for item in items:
        for key in dependency_keys(item.meta.depends):
            if key not in provided:
                raise MossError(
                    f"nothing in the new state provides {key}, which {item.meta.name} "
                    "needs: add a package that provides it, or a repository that offers one"
                )


def check_conflicts(selected: Iterable[Selected]) -> None:
    """Refuse a selection where a package's Conflicts names another selected package."""
    items = list(selected)
    offers: dict[str, str] = {}
    for item in items:
        offers.setdefault(item.meta.name, item.meta.name)
        for provider in item.meta.provides:
            offers.setdefault(str(provider), item.meta.name)
    for item in items:
        for conflict in item.meta.conflicts:
            key = conflict.target if conflict.kind == DependencyKind.PACKAGE_NAME else str(conflict)
            other = offers.get(key)
            if other is not None and other != item.meta.name:
                raise MossError(
                    f"package conflict: {item.meta.name} declares Conflicts {conflict} "
                    f"and {other} is selected; they cannot be installed together"
                )


def to_selections(selected: Mapping[str, Selected]) -> list[Selection]:
    return [Selection(s.id, s.explicit) for s in selected.values()]


def _label(meta: PackageMeta) -> str:
    return f"{meta.name}-{meta.version}-{meta.release}"
