"""The one place moss calls into ``boot/``: which states exist, and when to sync.

Boot entries are *managed* for a root that says where its ``$BOOT`` is
(``ROOT/etc/moss/boot.conf``) and for the live system when an ESP or
XBOOTLDR partition is mounted.  Transactions and state commands sync managed
entries under the same lock, so an entry never points at a state that is gone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import boot
from moss.core.errors import MossError
from moss.core.progress import QUIET, Progress
from moss.core.root import Root, read_state_id
from moss.db.databases import Databases
from moss.states.recovery import state_tree_ids


def is_managed(root: Root) -> bool:
    if (root.path / "etc" / "moss" / "boot.conf").is_file():
        return True
    if root.path.resolve() != Path("/"):
        return False
    try:
        boot.load_config(root.path)
    except MossError:
        return False
    return True


def boot_states(root: Root, dbs: Databases) -> list[boot.BootState]:
    """Every state with a complete tree, as boot sees it."""
    on_disk = state_tree_ids(root)
    active = read_state_id(root.usr)
    states = []
    for record in dbs.state.all():
        if record.id not in on_disk:
            continue
        usr = root.usr if record.id == active else root.archived_usr(record.id)
        states.append(boot.BootState(record.id, usr, datetime.fromtimestamp(record.created),
                                     record.summary))
    return states


def sync_boot(root: Root, dbs: Databases, *, esp: Path | None = None,
              boot_dir: Path | None = None, progress: Progress = QUIET) -> boot.SyncReport:
    """Write the boot entries of every state (the caller holds the lock)."""
    active = read_state_id(root.usr)
    if active is None:
        raise MossError("no active state yet: install something before syncing boot entries")
    config = boot.load_config(root.path, esp=esp, boot=boot_dir)
    return boot.sync(root.path, boot_states(root, dbs), active, dbs.state.pending(), config,
                     progress)


def sync_if_managed(root: Root, dbs: Databases, skip: bool, progress: Progress) -> None:
    """After a change of states: keep managed entries in step, unless told not to."""
    if not skip and is_managed(root):
        sync_boot(root, dbs, progress=progress)


def boot_status(root: Root, dbs: Databases, booted: int | None, *, esp: Path | None = None,
                boot_dir: Path | None = None) -> boot.BootStatus:
    config = boot.load_config(root.path, esp=esp, boot=boot_dir)
    return boot.status(root.path, config, booted=booted, pending=dbs.state.pending(),
                       active=read_state_id(root.usr))
