"""From the layouts of a selection to the tree to build, with every path checked.

This is where hostile layouts are stopped, before anything touches the disk:
targets must be plain relative paths below ``/usr``, no path may be owned by two
packages with different contents, and no entry may be placed through a symlink —
whether the same package or another one planted it — because writing through a
symlink is how a package would escape ``/usr``.

Two things real moss accepts (its vfs tree builder) are accepted here too, so
real packages stay installable:

- An entry below a symlink that points, inside ``/usr``, at a directory of the
  tree (``lib64 -> lib``, then ``lib64/ld-linux-x86-64.so.2``) is re-routed into
  that directory (``lib/ld-linux-x86-64.so.2``); the symlink stays.  The link's
  target is resolved as a path below ``/usr`` (``..`` above it is no target), so
  nothing is ever placed outside; a link to anything else stays refused.
- The same path shipped twice with the same content (same kind, mode and
  digest or link target) is a warning, and the first one is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from itertools import chain
from typing import NamedTuple

from moss.core.errors import MossError
from moss.stone import FileKind, LayoutEntry
from moss.store.incoming import check_target


class Placed(NamedTuple):
    """One layout entry and the package that ships it.

    A named tuple rather than a frozen dataclass: one is made per entry of every
    state (100 000 and more), and a tuple is built in C, a frozen dataclass
    through ``object.__setattr__`` per field.
    """

    package: str
    entry: LayoutEntry


@dataclass
class TreePlan:
    """Everything to create: directories (explicit or implied) and the other entries."""

    directories: dict[str, Placed | None] = field(default_factory=dict)
    files: dict[str, Placed] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # accepted oddities, for the user

    def __len__(self) -> int:
        return len(self.directories) + len(self.files)


def plan_tree(layouts: Iterable[tuple[str, Sequence[LayoutEntry]]]) -> TreePlan:
    """Merge the layouts of a selection into one plan, refusing conflicts and escapes."""
    plan = TreePlan()
    files, directories, directory = plan.files, plan.directories, FileKind.DIRECTORY
    for package, entries in layouts:
        for entry in entries:
            # The common case inline (a new file, or a directory seen first): the
            # checks are _place's own, without a call per entry.
            target = check_target(entry.target, package)
            if target in files or target in directories:
                _place(plan, Placed(package, entry))
            elif entry.file_kind == directory:
                directories[target] = Placed(package, entry)
            else:
                files[target] = Placed(package, entry)
    _reroute(plan)
    _check_parents(plan)
    return plan


def _same(a: LayoutEntry, b: LayoutEntry) -> bool:
    return (a.file_kind, a.source, a.mode) == (b.file_kind, b.source, b.mode)


def _place(plan: TreePlan, placed: Placed) -> None:
    target = check_target(placed.entry.target, placed.package)
    is_dir = placed.entry.file_kind == FileKind.DIRECTORY
    other = plan.files.get(target)
    if other is None and not is_dir and plan.directories.get(target) is not None:
        other = plan.directories[target]
    if other is not None and _same(other.entry, placed.entry):
        plan.warnings.append(f"/usr/{target} is shipped by both {other.package} and "
                             f"{placed.package} (the same); kept {other.package}'s")
        return
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
    files, directories = plan.files, plan.directories
    for target, placed in chain(files.items(), directories.items()):
        assert placed is not None
        parent = target
        while "/" in parent:
            parent = parent[: parent.rindex("/")]
            # A path is never both a file and a directory (_place refuses that), so
            # the usual answer, "already a known directory", may come first.
            if parent in directories or parent in implied:
                break
            blocker = files.get(parent)
            if blocker is not None:
                what = ("a symlink" if blocker.entry.file_kind == FileKind.SYMLINK
                        else "a non-directory")
                raise MossError(
                    f"package {placed.package}: /usr/{target} would be written through "
                    f"/usr/{parent}, {what} shipped by {blocker.package}; refused"
                )
            implied[parent] = placed
    for parent in implied:
        plan.directories.setdefault(parent, None)


#: Rounds of re-routing (a link into a directory reached through another link).
MAX_REROUTES = 8


def _resolve_link(link: str, dest: str) -> str | None:
    """Where the symlink at ``link`` (below /usr) leads, as a path below /usr, or None.

    An absolute target counts only inside ``/usr``; ``..`` above ``/usr`` is no target.
    """
    if dest.startswith("/"):
        if not dest.startswith("/usr/"):
            return None
        parts = dest[len("/usr/"):].split("/")
    else:
        parts = [*link.split("/")[:-1], *dest.split("/")]
    out: list[str] = []
    for part in parts:
        if part == "..":
            if not out:
                return None
            out.pop()
        elif part not in ("", "."):
            out.append(part)
    resolved = "/".join(out)
    inside_itself = resolved == link or resolved.startswith(link + "/")
    return None if not resolved or inside_itself else resolved


def _tree_directories(plan: TreePlan) -> set[str]:
    """Every directory of the plan, shipped or implied by a path below it."""
    found = {t for t in plan.directories if t not in plan.files}
    for target in [*plan.files, *plan.directories]:
        parent = target
        while "/" in parent:
            parent = parent[: parent.rindex("/")]
            if parent in found or parent in plan.files:
                break
            found.add(parent)
    return found


def _redirects(plan: TreePlan, links: set[str]) -> dict[str, str]:
    """Which of ``links`` lead to one of the plan's directories: link -> directory."""
    directories = _tree_directories(plan)
    redirects = {}
    for link in links:
        dest = plan.files[link].entry.source
        resolved = _resolve_link(link, dest) if isinstance(dest, str) else None
        if resolved is not None and resolved in directories:
            redirects[link] = resolved
    return redirects


def _below_links(plan: TreePlan, links: set[str]) -> list[tuple[str, Placed, str]]:
    """Each entry below a symlink of ``links``, with the innermost such link.

    Folders found clear of every link are remembered, so each distinct folder is
    climbed once: the cost is linear in the number of paths, not paths times depth.
    """
    clear: set[str] = set()
    below: dict[str, str] = {}  # folder -> the innermost link it lies below
    found: list[tuple[str, Placed, str]] = []
    for target, placed in [*plan.files.items(), *plan.directories.items()]:
        climbed: list[str] = []
        parent, link = target, None
        while "/" in parent:
            parent = parent[: parent.rindex("/")]
            if parent in links:
                link = parent
                break
            if parent in clear:
                break
            if parent in below:
                link = below[parent]
                break
            climbed.append(parent)
        if link is None:
            clear.update(climbed)
            continue
        below.update(dict.fromkeys(climbed, link))
        if placed is not None:
            found.append((target, placed, link))
    return found


def _reroute(plan: TreePlan) -> None:
    """Move entries below a symlink to a tree directory into that directory, as real moss.

    One linear pass finds what lies below any symlink at all (usually nothing);
    only then are the links' targets resolved against the tree's directories.
    """
    for _round in range(MAX_REROUTES):
        links = {t for t, p in plan.files.items() if p.entry.file_kind == FileKind.SYMLINK}
        found = _below_links(plan, links) if links else []
        redirects = _redirects(plan, {link for _t, _p, link in found}) if found else {}
        moves = [(target, Placed(placed.package, replace(
                     placed.entry, target=redirects[link] + target[len(link):])))
                 for target, placed, link in found if link in redirects]
        if not moves:
            return
        for target, _moved in moves:
            plan.files.pop(target, None)
            plan.directories.pop(target, None)
        for _target, moved in moves:
            _place(plan, moved)
