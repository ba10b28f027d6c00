"""What a state operation would change, read before asking: package diffs and freed space.

A user asked "activate state 12?" or "remove all but 3 states?" cannot judge the
question without its consequences: which packages come and go, which states
disappear and how much disk that gives back.  Everything here only reads (the
databases are opened read-only), so it can run before the confirmation and
under ``--dry-run``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.errors import MossError
from moss.core.root import Root, read_state_id, refuse_foreign_usr
from moss.db.databases import Databases, databases
from moss.planning.selection import Selected, selection_of
from moss.states.culled import tree_digests
from moss.store.assets import asset_location


def _version(s: Selected) -> str:
    return f"{s.meta.version}-{s.meta.release}"


@dataclass
class StateDiff:
    """Packages of state ``new`` compared with state ``old`` (by name)."""

    old: int | None
    new: int
    added: list[tuple[str, str]] = field(default_factory=list)  # (name, version)
    removed: list[tuple[str, str]] = field(default_factory=list)
    changed: list[tuple[str, str, str]] = field(default_factory=list)  # (name, old, new)

    def lines(self) -> list[str]:
        """One line per package, for a terminal."""
        return ([f"  add     {n} {v}" for n, v in self.added]
                + [f"  remove  {n} {v}" for n, v in self.removed]
                + [f"  change  {n} {a} -> {b}" for n, a, b in self.changed])

    def to_json(self) -> dict[str, object]:
        return {"from": self.old, "to": self.new,
                "added": [{"name": n, "version": v} for n, v in self.added],
                "removed": [{"name": n, "version": v} for n, v in self.removed],
                "changed": [{"name": n, "from": a, "to": b} for n, a, b in self.changed]}


def compare(dbs: Databases, old: int | None, new: int) -> StateDiff:
    before, after = selection_of(dbs, old), selection_of(dbs, new)
    diff = StateDiff(old, new)
    for name in sorted(after.keys() - before.keys()):
        diff.added.append((name, _version(after[name])))
    for name in sorted(before.keys() - after.keys()):
        diff.removed.append((name, _version(before[name])))
    for name in sorted(before.keys() & after.keys()):
        if before[name].id != after[name].id:
            diff.changed.append((name, _version(before[name]), _version(after[name])))
    return diff


def _known(dbs: Databases, state_ids: list[int]) -> None:
    ids = set(dbs.state.ids())
    for state_id in state_ids:
        if state_id not in ids:
            raise MossError(f"no state {state_id}; `moss state list` shows the states")


def state_diff(root_path: Path, old: int, new: int) -> StateDiff:
    """``moss state diff OLD NEW``: what going from OLD to NEW adds, removes, changes."""
    root = Root(root_path)
    if not root.db.is_dir():
        raise MossError(f"no state {old}; `moss state list` shows the states")
    with databases(root) as dbs:
        _known(dbs, [old, new])
        return compare(dbs, old, new)


def activation_diff(root_path: Path, state_id: int) -> StateDiff:
    """From the active state to ``state_id``, shown before ``state activate`` asks."""
    root = Root(root_path)
    with databases(root) as dbs:
        _known(dbs, [state_id])
        return compare(dbs, read_state_id(root.usr), state_id)


def prune_candidates(dbs: Databases, root: Root, keep: int,
                     include_newer: bool = False) -> list[int]:
    """The states ``state prune --keep N`` removes, as real moss's ``KeepRecent``
    (moss/src/client/prune.rs): N counts the active state, so of the other states
    the N-1 most recently created stay; states newer than the active one are never
    candidates unless ``include_newer``.  The active state is never removed, nor
    a state pending a reboot (real moss has none; here it is kept besides the N).
    """
    check_keep(keep)
    created = dbs.state.created()
    active = read_state_id(root.usr)
    if active is None or active not in created:
        if not created:
            return []
        refuse_foreign_usr(root)  # an unreadable .stateID: say so, as every command does
        raise MossError("no state is active (the live /usr has no known .stateID); "
                        "prune keeps states relative to the active one")
    pending = dbs.state.pending()
    candidates = sorted((i for i in created if i not in (active, pending)
                         and (include_newer or i < active)),
                        key=lambda i: (created[i], i))
    return sorted(candidates[:max(0, len(candidates) - (keep - 1))])


def check_keep(keep: int) -> None:
    """Real moss accepts 1 or more (``value_parser!(u64).range(1..)``)."""
    if keep < 1:
        raise MossError(f"--keep {keep}: must be 1 or more (it counts the active state)")


def freed_bytes(dbs: Databases, root: Root, doomed: list[int]) -> int:
    """Disk space removing ``doomed`` gives back: blobs and cached packages only they use.

    Sizes are read from the files themselves (a blob already gone counts zero),
    not from the databases' records, so the figure is what ``df`` will show.
    """
    kept = {s.package for record in dbs.state.all() if record.id not in doomed
            for s in record.selections}
    dropped = [p for p in dbs.install.all_packages() if p not in kept]
    # What the remaining trees link to: culled files' blobs go (moss.states.culled).
    kept_digests = tree_digests(dbs, [s for s in dbs.state.ids() if s not in doomed])
    freed = 0
    assets = str(root.assets)
    for digest in dbs.layout.referenced_digests() - kept_digests:
        freed += _size(asset_location(assets, digest))
    for package in dropped:
        freed += _size(str(root.cached_package(package)))
    return freed


def _size(path: str) -> int:
    try:
        return os.lstat(path).st_size
    except FileNotFoundError:
        return 0


def prune_preview(root_path: Path, keep: int,
                  include_newer: bool = False) -> tuple[list[int], int]:
    """The states ``state prune --keep`` would remove, and the bytes it would free."""
    check_keep(keep)
    root = Root(root_path)
    if not root.db.is_dir():
        return [], 0
    with databases(root) as dbs:
        doomed = prune_candidates(dbs, root, keep, include_newer)
        return doomed, freed_bytes(dbs, root, doomed)


def check_removable(dbs: Databases, root: Root, state_ids: list[int]) -> None:
    """Why ``state remove`` cannot remove one of these, as one line (before asking, too)."""
    _known(dbs, state_ids)
    for state_id in state_ids:
        if state_id == read_state_id(root.usr):
            raise MossError(f"state {state_id} is active; activate another state first")
        if state_id == dbs.state.pending():
            raise MossError(f"state {state_id} is pending a reboot; it cannot be removed")


def existing(root_path: Path, state_ids: list[int]) -> list[int]:
    """Those of ``state_ids`` the root records, in the order given: real moss's ``state
    remove`` passes over an id it does not know (``state remove 1-20`` on a root that
    kept 12 to 20 removes those), so this one does too."""
    root = Root(root_path)
    if not root.db.is_dir():
        return []
    with databases(root) as dbs:
        known = set(dbs.state.ids())
    return [i for i in state_ids if i in known]


def remove_preview(root_path: Path, state_ids: list[int]) -> int:
    """Checks ``state remove`` would accept these states; returns the bytes it would free."""
    root = Root(root_path)
    if not root.db.is_dir():
        raise MossError(f"no state {state_ids[0]}; `moss state list` shows the states")
    with databases(root) as dbs:
        check_removable(dbs, root, state_ids)
        return freed_bytes(dbs, root, state_ids)
