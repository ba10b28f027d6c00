"""Repairing what an interrupted moss (or pivot agent) left behind.

Runs at the start of every mutating command, under the lock.  Each step
undoes or completes one kind of leftover, and together they restore the rule
the rest of moss relies on: every state row in the database has exactly one
complete tree on disk, and ``/usr`` is one of them.

Which directories are state slots and what "a tree in the wrong slot" is are the
on-disk contract's rules (:mod:`moss.core.ondisk`), the ones the pivot agent
applies in early boot: a name that is not a state id written as moss writes it
(``staging``, ``01``, ``²``) is never a slot, and is left alone.  What to do
about a leftover is moss's own policy: unlike the agent, it removes a duplicate.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from moss.core import ondisk
from moss.core.fs import count_entries, remove_empty_dir, remove_tree
from moss.core.progress import QUIET, Progress
from moss.core.root import Root, read_state_id, refuse_foreign_usr, update_root_links
from moss.db import extras
from moss.db.databases import Databases


def recover(root: Root, dbs: Databases, progress: Progress = QUIET) -> list[str]:
    """Bring the root back to a consistent state; returns what was done, for -v.

    Refuses (MossError, nothing changed) a ``/usr`` that no state id names: every
    state row would look like it had lost its tree and be forgotten.  Removing a
    leftover tree shows on ``progress``: the staging tree of a 40 000-file package
    takes long enough that a silent terminal looks hung.
    """
    refuse_foreign_usr(root)
    done: list[str] = []
    _finish_removals(root, done, progress)
    _rehome_archived(root, done, progress)
    _settle_staging(root, dbs, done, progress)
    _drop_rows_without_tree(root, dbs, done)
    remove_empty_dir(root.incoming)  # nothing unfinished in it: nothing to say
    if root.incoming.exists():
        _remove(root.incoming, "unfinished store files", progress, ignore_errors=True)
    update_root_links(root)
    for line in done:
        print(f"moss: recovered: {line}", file=sys.stderr)
    return done


def note_unrecorded_activation(root: Root, dbs: Databases) -> None:
    """The live state became active with no record of it (real moss did it, or a
    crash came between the exchange and the record): say so in the history."""
    active = read_state_id(root.usr)
    history = dbs.extras.activations()
    if active is not None and (history[-1][0] if history else None) != active:
        dbs.extras.record_activation(active, extras.UNRECORDED, None)


def state_tree_ids(root: Root) -> set[int]:
    """Ids of every complete tree on disk: the active one and the archived ones."""
    ids = set()
    active = read_state_id(root.usr)
    if active is not None:
        ids.add(active)
    for name, state_id in ondisk.state_slots(root.path):
        if read_state_id(root.states_dir / name / "usr") == state_id:
            ids.add(state_id)
    return ids


def _remove(path: Path, what: str, progress: Progress, ignore_errors: bool = False) -> None:
    """Remove a leftover tree, counting its entries on the progress line."""
    if not progress.enabled:
        remove_tree(path, ignore_errors)
        return
    progress.start(f"Removing {what}", count_entries(path), "entries")
    try:
        remove_tree(path, ignore_errors, removed=progress.advance)
    finally:
        progress.done()


def _finish_removals(root: Root, done: list[str], progress: Progress) -> None:
    """``removing-<id>`` trees are states a prune or remove was deleting."""
    if not root.states_dir.is_dir():
        return
    for entry in root.states_dir.glob("removing-*"):
        _remove(entry, f"state {entry.name[len('removing-'):]}", progress)
        done.append(f"finished removing {entry.name[len('removing-'):]}")


def _rehome_archived(root: Root, done: list[str], progress: Progress) -> None:
    """A tree under ``.moss/root/X`` whose id is Y: a crash between exchange and archive."""
    for name, _ in ondisk.state_slots(root.path):
        entry = root.states_dir / name
        usr = entry / "usr"
        if usr.is_symlink():
            os.unlink(usr)  # old-layout leftover of an exchange with a symlinked /usr
            done.append(f"removed stale symlink {usr}")
            remove_empty_dir(entry)
            continue
        real = ondisk.misplaced_owner(name, usr)
        if real is None:
            if not usr.exists():
                remove_empty_dir(entry)
            continue
        dest = root.archived_usr(real)
        if dest.exists() or read_state_id(root.usr) == real:
            _remove(usr, f"a duplicate tree of state {real}", progress)
            done.append(f"removed duplicate tree of state {real} from {entry}")
        else:
            dest.parent.mkdir(exist_ok=True)
            os.rename(usr, dest)
            done.append(f"archived state {real} that was left in {entry}")
        remove_empty_dir(entry)


def _settle_staging(root: Root, dbs: Databases, done: list[str], progress: Progress) -> None:
    """A staging tree is either a new state that never went live, or the old tree."""
    usr = root.staging_usr
    abandoned = "the abandoned staging tree"
    if not usr.exists() and not usr.is_symlink():
        if root.staging.exists():
            _remove(root.staging, abandoned, progress)
        return
    if usr.is_symlink():
        os.unlink(usr)
        done.append("removed old-layout /usr symlink left in staging")
        return
    state_id = read_state_id(usr)
    active = read_state_id(root.usr)
    ids = dbs.state.ids()
    newest = max(ids) if ids else None
    if state_id is None or state_id == active or root.archived_usr(state_id).exists():
        _remove(root.staging, abandoned, progress)
        done.append("removed an incomplete staging tree")
    elif state_id == newest and (active is None or state_id > active):
        # Built and recorded but never made live: the transaction is rolled back.
        _remove(root.staging, abandoned, progress)
        dbs.state.remove([state_id])
        done.append(f"rolled back state {state_id}, which was interrupted before activation")
    else:
        dest = root.archived_usr(state_id)
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.rename(usr, dest)
        _remove(root.staging, abandoned, progress)
        done.append(f"archived state {state_id} that was left in staging")


def _drop_rows_without_tree(root: Root, dbs: Databases, done: list[str]) -> None:
    on_disk = state_tree_ids(root)
    missing = [i for i in dbs.state.ids() if i not in on_disk]
    if missing:
        dbs.state.remove(missing)
        done.append(f"forgot states without a tree: {', '.join(map(str, missing))}")
    stale = dbs.extras.sweep(dbs.state.created())
    if stale:
        done.append(f"dropped extras of unrecorded states: {', '.join(map(str, stale))}")
    pending = dbs.state.pending()
    if pending is not None and pending not in on_disk:
        dbs.state.set_pending(None)
        done.append(f"cleared pending state {pending}, which has no tree")

