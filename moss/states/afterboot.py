"""What moss does the first time it runs after the pivot agent activated a state.

The agent in the initramfs only swaps trees and leaves a record in
``/run/moss/pivot.json``; it runs no triggers.  The first mutating moss run
after such a boot reads that record, settles the pending state, and runs the
system triggers the agent skipped — once per boot, remembered by the record's
time in the state database.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from moss.core.errors import MossError
from moss.core.progress import Progress
from moss.core.root import Root, read_state_id
from moss.db import extras
from moss.db.databases import Databases
from moss.states.quicklist import PIVOT_RECORD, pivot_record

RECORD = PIVOT_RECORD
HANDLED_KEY = "pivot-record-handled"


@dataclass(frozen=True)
class PivotRecord:
    requested: int | None
    previous: int | None
    active: int | None
    result: str
    reason: str
    time: float


def read_record(root: Root) -> PivotRecord | None:
    fields = pivot_record(root)
    return None if fields is None else PivotRecord(*fields)


def booted_state(root: Root) -> int | None:
    """The state this boot came up in, as the agent recorded it."""
    record = read_record(root)
    return record.active if record else None


def fell_back(record: PivotRecord, pending: int | None) -> bool:
    """The boot loader gave up on the pending state after its tries.

    The agent then switched *from* the pending state (which an earlier try had
    made active) to an older one: the entry of the pending state was skipped.
    """
    return (record.result == "activated" and pending is not None
            and record.previous == pending and record.active != pending)


def how_booted(record: PivotRecord, pending: int | None, interrupted: int | None) -> str:
    """How the agent's activation came about, for the activation history.

    ``interrupted``: a live switch to that state was cut off before the boot
    default named it, so the boot went back to the default, not to a menu choice.
    """
    if fell_back(record, pending) or (
            record.requested is not None and record.active != record.requested) or (
            interrupted is not None and record.previous == interrupted):
        return extras.BOOT_FALLBACK
    if record.active == pending:
        return extras.TRANSACTION  # a deferred update, applied by the reboot
    return extras.BOOT_MENU


def settle_after_boot(root: Root, dbs: Databases, progress: Progress,
                      interrupted: int | None = None) -> None:
    record = read_record(root)
    if record is None or dbs.state.get_setting(HANDLED_KEY) == repr(record.time):
        return
    pending = dbs.state.pending()
    if record.result == "activated" and record.active is not None:
        dbs.extras.record_activation(record.active, how_booted(record, pending, interrupted),
                                     record.previous)
    if fell_back(record, pending):
        print(f"moss: state {pending} failed to boot; the boot loader fell back to state "
              f"{record.active}, which runs now", file=sys.stderr)
        dbs.state.set_pending(None)  # the next transaction builds on what runs
    elif pending == read_state_id(root.usr):
        dbs.state.set_pending(None)
    dbs.state.set_setting(HANDLED_KEY, repr(record.time))
    if record.result == "activated":
        from moss import triggers  # here: `moss state list` reads booted_state only

        try:
            triggers.run_system_triggers(root.path, progress)
        except MossError as exc:
            print(f"moss: warning: after the boot-time switch to state {record.active}, "
                  f"{exc}", file=sys.stderr)
