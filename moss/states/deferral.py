"""Updates that wait for a reboot: deciding when, and staging the pending state.

A transaction that changes a kernel (anything under ``/usr/lib/kernel/``) or
adds a package providing ``moss-reboot-required`` builds its state but does not
exchange ``/usr`` under the running system: the running kernel keeps the
modules it booted with.  The state is archived and marked pending; its boot
entry becomes the default, and the pivot agent activates it at the next boot.

A later transaction before that reboot builds on the pending state and takes
its place, so no update is lost and no superseded state stays the default; its
plan says so before asking, and it waits for the reboot too unless ``--now``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from moss.core.faults import checkpoint
from moss.core.fs import remove_tree
from moss.core.root import Root
from moss.db.databases import Databases
from moss.planning.selection import Selected, selection_of
from moss.states.diff import compare
from moss.tree.plan import TreePlan

REBOOT_PROVIDER = "moss-reboot-required"
KERNEL_DIR = "lib/kernel/"


def reboot_needed(dbs: Databases, running: int | None, plan: TreePlan,
                  selected: Mapping[str, Selected]) -> bool:
    """Whether the new selection differs from the running state in what needs a reboot."""
    running_selection = selection_of(dbs, running)
    before = {
        entry.target: (entry.file_kind, entry.source)
        for s in running_selection.values() for entry in dbs.layout.entries(s.id)
        if entry.target.startswith(KERNEL_DIR)
    }
    after = {
        target: (placed.entry.file_kind, placed.entry.source)
        for target, placed in plan.files.items() if target.startswith(KERNEL_DIR)
    }
    if before != after:
        return True
    running_ids = {s.id for s in running_selection.values()}
    return any(
        REBOOT_PROVIDER in {str(p) for p in s.meta.provides}
        for s in selected.values() if s.id not in running_ids
    )


def should_defer(root: Root, forced: bool | None, needed: bool, pending: int | None = None
                 ) -> bool:
    """``--defer``/``--now`` decide anywhere; otherwise a state that carries a pending
    one waits for the reboot as that one did, and a new reboot-needing change is
    deferred only under a running system."""
    if forced is not None:
        return forced
    return pending is not None or (needed and root.path.resolve() == Path("/"))


def carried_note(dbs: Databases, running: int | None, pending: int, now: bool) -> str:
    """What the plan says about a pending state before asking (issue 25): its changes
    are carried into the new state, which replaces it."""
    diff = compare(dbs, running, pending)
    parts = ([f"{n} {a} -> {b}" for n, a, b in diff.changed]
             + [f"add {n} {v}" for n, v in diff.added]
             + [f"remove {n} {v}" for n, v in diff.removed])
    then = "is applied now (--now)" if now else "waits for the next boot in its place"
    return (f"state {pending} (pending: {', '.join(parts) or 'no package changes'}) is "
            f"carried into the new state, which replaces it and {then}")


def stage_pending(root: Root, dbs: Databases, state_id: int) -> None:
    """Archive the staged tree, then mark it pending (that order survives a crash)."""
    dest = root.archived_usr(state_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    os.rename(root.staging_usr, dest)
    root.staging.rmdir()
    checkpoint("defer:archived")
    dbs.state.set_pending(state_id)


def discard_superseded(root: Root, dbs: Databases, superseded: int | None, new: int) -> None:
    """Remove a pending state that a newer transaction built upon and replaced."""
    if superseded is None or superseded == new:
        return
    if dbs.state.pending() == superseded:
        dbs.state.set_pending(None)
    tree = root.states_dir / str(superseded)
    if tree.exists():
        doomed = root.states_dir / f"removing-{superseded}"
        os.rename(tree, doomed)
        remove_tree(doomed)
    dbs.state.remove([superseded])
