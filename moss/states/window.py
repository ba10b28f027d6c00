"""The window between a live ``/usr`` exchange and the boot entries that name it.

A live switch exchanges ``/usr`` first and then runs the system triggers and the
boot sync, which makes the new state the boot default.  Until that sync ends, a
crash or a power cut leaves a machine whose next boot starts the *old* state
again: either the exchange never reached the disk (recovery rolls the new state
back), or it did and the pivot agent, seeing the old state's ``moss.fstx``,
switches back.  Both are consistent, but the update is lost, so moss must say so.

moss therefore records which state it is switching to (a setting in its own
extras database, committed before the exchange) and clears it once the boot
sync has run.  The first mutating command after an interruption finds the
record and either finishes the job (the new state runs: its boot entries are
written) or explains that the boot went back and how to
return to the new state.
"""

from __future__ import annotations

import sys
from pathlib import Path

from moss.core.errors import MossError
from moss.core.progress import Progress
from moss.core.root import Root, read_state_id
from moss.db.databases import Databases
from moss.states.activate import activate_tree
from moss.states.bootsync import after_change

KEY = "switching-to"


def go_live(root: Root, dbs: Databases, tree: Path, state_id: int) -> int | None:
    """Exchange ``tree`` in as ``/usr``, recording the switch first (see above)."""
    dbs.extras.set_setting(KEY, str(state_id))
    return activate_tree(root, tree)


def finish_switch(root: Root, dbs: Databases, done: str, *, skip_triggers: bool = False,
                  skip_boot: bool, progress: Progress) -> None:
    """After :func:`go_live`: triggers and boot entries, then the switch is complete.

    The record is cleared even when that step fails: the failure is reported
    (:class:`PartlyDone`) with what to do, and must not be "finished" twice.
    """
    try:
        after_change(root, dbs, done, live=not skip_triggers, skip_boot=skip_boot,
                     progress=progress)
    finally:
        switch_done(dbs)


def switch_done(dbs: Databases) -> None:
    if dbs.extras.get_setting(KEY) is not None:
        dbs.extras.set_setting(KEY, None)


def interrupted_switch(dbs: Databases) -> int | None:
    """The state a switch was going to when it was interrupted, if one was."""
    value = dbs.extras.get_setting(KEY)
    return int(value) if value is not None and value.isascii() and value.isdigit() else None


def settle_interrupted_switch(root: Root, dbs: Databases, target: int | None,
                              progress: Progress) -> None:
    """Finish or explain a switch to ``target`` that did not reach its boot sync."""
    if target is None:
        return
    active = read_state_id(root.usr)
    if active == target:
        # Boot entries only: the command under way may be the AerynOS initramfs's
        # `state activate --skip-triggers`, which must run no triggers.
        print(f"moss: the switch to state {target} was interrupted before its boot entries "
              "were written; writing them now", file=sys.stderr)
        try:
            after_change(root, dbs, f"state {target} is active", live=False, skip_boot=False,
                         progress=progress)
        except MossError as exc:
            print(f"moss: warning: {exc}", file=sys.stderr)
    elif target in dbs.state.ids():
        print(f"moss: the update to state {target} was interrupted before its boot entry "
              f"became the default, so the system started state {active} again; state "
              f"{target} is kept: `moss state activate {target}` returns to it",
              file=sys.stderr)
    # else recovery rolled the state back and said so ("rolled back state N ...").
    switch_done(dbs)
