"""The one place moss calls into ``boot/``: which states exist, and when to sync.

Boot entries are *managed* for a root that says where its ``$BOOT`` is
(``ROOT/etc/moss/boot.conf``) and for the live system when an ESP or
XBOOTLDR partition is mounted.  Transactions and state commands sync managed
entries under the same lock, so an entry never points at a state that is gone.

The contract once a change of states is made (:func:`after_change`): a state
that went live is not undone by what fails afterwards.  Its system triggers run
first (they may write what its boot entries need), then the entries are synced;
a failed sync is reported as "state N is active, but its boot entries were not
updated: ..." with exit status 3, and ``moss boot sync`` repairs it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import boot
from moss import triggers
from moss.core import confined
from moss.core.errors import BOOT_NOT_UPDATED, FAILED, MossError, PartlyDone, describe_os_error
from moss.core.progress import QUIET, Progress
from moss.core.root import Root, read_state_id
from moss.db.databases import Databases
from moss.states.recovery import state_tree_ids


def is_managed(root: Root) -> bool:
    found = confined.resolve(root.path, "etc/moss/boot.conf")  # a link out of ROOT is no file
    if found is not None and found.is_file():
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


def after_change(root: Root, dbs: Databases, done: str, *, live: bool, skip_boot: bool,
                 progress: Progress, entries: str = "its boot entries") -> None:
    """Finish a change of states that is already made: triggers, then boot entries.

    ``done`` says what is in effect ("state 5 is active"); ``live`` runs the
    system triggers of the live tree first.  Neither failure undoes the change:
    both are raised afterwards as :class:`PartlyDone`, a trigger's with status 1
    (something in the live state did not happen), the entries' alone with 3.
    """
    trigger_error = None
    if live:
        try:
            triggers.run_system_triggers(root.path, progress)
        except MossError as exc:
            trigger_error = str(exc)
    boot_error = None
    try:
        sync_if_managed(root, dbs, skip_boot, progress)
    except MossError as exc:
        boot_error = str(exc)
    except OSError as exc:  # a full or failing ESP
        boot_error = describe_os_error(exc, _boot_dirs(root), advice=False)
    stale = (f"{entries} were not updated: {boot_error}; fix that, then run `moss boot sync`"
             if boot_error else None)
    if trigger_error:
        raise PartlyDone(f"{done}, but {trigger_error}" + (f"; and {stale}" if stale else ""),
                         FAILED)
    if stale:
        raise PartlyDone(f"{done}, but {stale}", BOOT_NOT_UPDATED)


def _boot_dirs(root: Root) -> list[Path]:
    """Where boot sync writes, to name the full one when the OS does not say."""
    try:
        config = boot.load_config(root.path)
    except MossError:
        return [root.path]
    return [p for p in (config.xbootldr, config.esp) if p is not None] or [root.path]


def boot_status(root: Root, dbs: Databases, booted: int | None, *, esp: Path | None = None,
                boot_dir: Path | None = None) -> boot.BootStatus:
    config = boot.load_config(root.path, esp=esp, boot=boot_dir)
    return boot.status(root.path, config, booted=booted, pending=dbs.state.pending(),
                       active=read_state_id(root.usr))


def bless_boot(root: Root, booted: int | None, *, esp: Path | None = None,
               boot_dir: Path | None = None) -> list[str]:
    """The documented step that blesses a good boot where systemd-bless-boot is absent."""
    config = boot.load_config(root.path, esp=esp, boot=boot_dir)
    return boot.bless(config, booted if booted is not None else read_state_id(root.usr))
