"""From the layouts of a selection to the tree to build, with every path checked.

This is where hostile layouts are stopped, before anything touches the disk:
targets must be plain relative paths below ``/usr``, no path may be owned by two
packages, and no entry may be placed through a symlink — whether the same
package or another one planted it — because writing through a symlink is how a
package would escape ``/usr``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from moss.core.errors import MossError
from moss.stone import FileKind, LayoutEntry
from moss.store.incoming import check_target


@dataclass(frozen=True)
class Placed:
    """One layout entry and the package that ships it."""

    package: str
    entry: LayoutEntry


@dataclass
class TreePlan:
    """Everything to create: directories (explicit or implied) and the other entries."""

    directories: dict[str, Placed | None] = field(default_factory=dict)
    files: dict[str, Placed] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.directories) + len(self.files)


def plan_tree(layouts: Iterable[tuple[str, Sequence[LayoutEntry]]]) -> TreePlan:
    """Merge the layouts of a selection into one plan, refusing conflicts and escapes."""
    plan = TreePlan()
    for package, entries in layouts:
        for entry in entries:
            _place(plan, Placed(package, entry))
    _check_parents(plan)
    return plan


def _place(plan: TreePlan, placed: Placed) -> None:
    target = check_target(placed.entry.target, placed.package)
    is_dir = placed.entry.file_kind == FileKind.DIRECTORY
    other = plan.files.get(target)
    if other is None and not is_dir and plan.directories.get(target) is not None:
        other = plan.directories[target]
    if other is not None:
        raise MossError(
            f"file conflict: /usr/{target} is shipped by both {other.package} "
            f"and {placed.package}"
        )
    if is_dir:
        if plan.directories.get(target) is None:
            plan.directories[target] = placed
    else:
        plan.files[target] = placed


def _check_parents(plan: TreePlan) -> None:
    """Every parent of every entry must be a directory; never a symlink or a file.

    Each entry's parents are climbed only until one already known as a directory:
    that one's own parents are checked when its turn comes, so the cost is linear
    in the number of distinct paths, not in depth squared.
    """
    implied: dict[str, Placed] = {}
    for target, placed in [*plan.files.items(), *plan.directories.items()]:
        assert placed is not None
        parent = target
        while "/" in parent:
            parent = parent[: parent.rindex("/")]
            blocker = plan.files.get(parent)
            if blocker is not None:
                what = ("a symlink" if blocker.entry.file_kind == FileKind.SYMLINK
                        else "a non-directory")
                raise MossError(
                    f"package {placed.package}: /usr/{target} would be written through "
                    f"/usr/{parent}, {what} shipped by {blocker.package}; refused"
                )
            if parent in plan.directories or parent in implied:
                break
            implied[parent] = placed
    for parent in implied:
        plan.directories.setdefault(parent, None)
