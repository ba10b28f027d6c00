"""Operations on existing states: list, activate, prune, remove.

Every state row has a complete tree on disk (``/usr`` for the active one,
``.moss/root/<id>/usr`` for the others), so activating an old state is one
exchange, with no download and no unpacking.  Removal deletes trees before
rows: an interrupted prune leaves rows without trees, which recovery drops,
never trees nobody can find.  Garbage goes the other way round: database rows
before the files they name (:func:`collect_garbage`), so a kill at any instant
leaves at worst files nobody names (orphans, which the next prune removes),
never a row naming a deleted blob, which would make a reinstall skip the blob.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path

from moss.core.errors import MossError
from moss.core.faults import checkpoint
from moss.core.fs import remove_tree
from moss.core.progress import QUIET, Progress
from moss.core.root import Root, ensure_skeleton, read_state_id
from moss.db import extras
from moss.db.databases import Databases
from moss.states.bootsync import after_change, sync_if_managed
from moss.states.culled import tree_digests
from moss.states.diff import check_keep, check_removable, prune_candidates
from moss.states.listing import StateInfo as StateInfo
from moss.states.listing import active_state as active_state
from moss.states.listing import list_states as list_states
from moss.states.mutating import mutating
from moss.states.window import finish_switch, go_live
from moss.stone import digest_hex
from moss.store.assets import check_blobs, remove_unreferenced


def activate_state(root_path: Path, state_id: int, wait_for_lock: bool = True,
                   skip_boot: bool = False, progress: Progress = QUIET,
                   skip_triggers: bool = False) -> int | None:
    """Make an archived state live again; returns the state that was active.

    ``skip_triggers``: run no system triggers (the AerynOS initramfs activates with
    ``--skip-triggers`` before the real root is up).
    """
    root = Root(root_path)
    ensure_skeleton(root)
    with mutating(root, wait=wait_for_lock, progress=progress) as dbs:
        if dbs.state.get(state_id) is None:
            raise MossError(f"no state {state_id}; `moss state list` shows the states")
        active = read_state_id(root.usr)
        if active == state_id:
            return active
        tree = root.archived_usr(state_id)
        if read_state_id(tree) != state_id:
            raise MossError(f"state {state_id} has no complete tree at {tree}")
        check_blobs(root, dbs.layout, state_digests(dbs, state_id))
        previous = go_live(root, dbs, tree, state_id)
        dbs.extras.record_activation(state_id, extras.ROLLBACK, previous)
        if dbs.state.pending() is not None:
            dbs.state.set_pending(None)
        # --skip-triggers (the AerynOS initramfs): the booted system runs them later.
        finish_switch(root, dbs, f"state {state_id} is active", skip_triggers=skip_triggers,
                      skip_boot=skip_boot, progress=progress)
        return previous


def state_digests(dbs: Databases, state_id: int) -> set[int]:
    """The store blobs a state's tree links to: its regular files' digests, but for
    the paths its subscriptions left out (their blobs may have left the store)."""
    return tree_digests(dbs, [state_id])


def prune_states(root_path: Path, keep: int, wait_for_lock: bool = True,
                 skip_boot: bool = False, progress: Progress = QUIET,
                 include_newer: bool = False) -> list[int]:
    """Keep ``keep`` states counting the active one, as real moss
    (:func:`moss.states.diff.prune_candidates`); returns the states removed."""
    check_keep(keep)
    root = Root(root_path)
    with mutating(root, wait=wait_for_lock, progress=progress) as dbs:
        doomed = prune_candidates(dbs, root, keep, include_newer)
        _remove(root, dbs, doomed, progress)
        if doomed:
            after_change(root, dbs, f"{_states(doomed)} removed", live=False,
                         skip_boot=skip_boot, progress=progress, entries="the boot entries")
        else:
            sync_if_managed(root, dbs, skip_boot, progress)  # nothing done: a plain failure
        return doomed


def remove_states(root_path: Path, state_ids: list[int], wait_for_lock: bool = True,
                  skip_boot: bool = False, progress: Progress = QUIET) -> None:
    root = Root(root_path)
    with mutating(root, wait=wait_for_lock, progress=progress) as dbs:
        check_removable(dbs, root, state_ids)
        _remove(root, dbs, state_ids, progress)
        after_change(root, dbs, f"{_states(state_ids)} removed", live=False,
                     skip_boot=skip_boot, progress=progress, entries="the boot entries")


def _states(ids: list[int]) -> str:
    if len(ids) == 1:
        return f"state {ids[0]} is"
    return f"states {', '.join(map(str, ids))} are"


def _remove(root: Root, dbs: Databases, state_ids: list[int], progress: Progress) -> None:
    """Trees first, then rows, then whatever no remaining state references."""
    progress.start("Removing states", len(state_ids), "states")
    try:
        for state_id in state_ids:
            directory = root.states_dir / str(state_id)
            if directory.exists():
                doomed = root.states_dir / f"removing-{state_id}"
                os.rename(directory, doomed)  # no longer a complete tree to anyone
                checkpoint("prune:tree-renamed")
                remove_tree(doomed)
            progress.advance()
    finally:
        progress.done()
    checkpoint("prune:trees-removed")
    dbs.state.remove(state_ids)
    checkpoint("prune:rows-removed")
    collect_garbage(root, dbs, progress)


def downloads(root: Root) -> list[Path]:
    """Every file in the download cache (``.part`` leftovers included)."""
    top = root.cache / "downloads" / "v1"
    return [Path(d) / name for d, _dirs, files in os.walk(top) for name in files]


def collect_garbage(root: Root, dbs: Databases, progress: Progress = QUIET,
                    keep: Collection[str] = ()) -> int:
    """Drop packages no state selects (but those in ``keep``), their cached files,
    and unreferenced blobs.

    Every row goes before the file it names (layout and install rows before the
    cached ``.stone``, asset rows before the blob), each step committed on its
    own; returns how many files were deleted.
    """
    # A tree the database does not know is never deleted here: a lost row is
    # not a lost state, and :func:`moss.states.mutating.mutating` refused such a root.
    used = dbs.state.referenced_packages()
    unused = [p for p in dbs.install.all_packages() if p not in used and p not in keep]
    dbs.layout.remove(unused)
    dbs.install.remove(unused)
    checkpoint("prune:packages-forgotten")
    removed = 0
    for package in unused:
        cached = root.cached_package(package)
        if cached.exists():
            cached.unlink()
            removed += 1
    # Culled files' blobs go too (moss.states.culled).
    referenced = {digest_hex(d) for d in tree_digests(dbs)}
    dbs.layout.remove_assets(set(dbs.layout.all_assets()) - referenced)
    checkpoint("prune:asset-rows-removed")
    return removed + remove_unreferenced(root, referenced, progress)
