"""How every command that changes a root begins.

Under the lock, and before it looks at anything: repair what an interrupted
moss or pivot agent left (:mod:`moss.states.recovery`), then settle a switch of
states the agent made at boot (:mod:`moss.states.afterboot`) and a live switch
that was cut off before its boot entries were written (:mod:`moss.states.window`).
Before recovery and after it, the databases must agree with the disk
(:mod:`moss.states.consistency`): recovery itself forgets rows whose tree it
cannot see, so it must never run on a root whose databases lie.
Before the lock, on a read-only OS, moss moves into its own mount namespace where
the root is writable (:mod:`moss.core.namespace`); under it, logind is asked not to
suspend or shut down the machine (:mod:`moss.core.inhibit`).  Every mutating
command enters through :func:`mutating`, so none can forget either step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from moss.core import fs, namespace
from moss.core.inhibit import inhibited
from moss.core.progress import QUIET, Progress
from moss.core.root import Root, refuse_borrowed, refuse_foreign_usr
from moss.db.databases import Databases, databases
from moss.states import consistency
from moss.states.afterboot import settle_after_boot
from moss.states.recovery import note_unrecorded_activation, recover
from moss.states.window import interrupted_switch, settle_interrupted_switch


@contextlib.contextmanager
def mutating(root: Root, *, wait: bool = True, progress: Progress = QUIET,
             refuse_disagreement: bool = True) -> Iterator[Databases]:
    """The root's databases, writable, under the lock, after recovery.

    ``refuse_disagreement=False`` (``state verify``, which reports them): a root
    whose databases disagree with its disk is handed over as it is, unrecovered.
    """
    refuse_borrowed(root)
    namespace.enter_writable(root.path)
    with fs.locked(root.lockfile, wait=wait), inhibited("Applying new state"), \
            databases(root, writable=True) as dbs:
        refuse_foreign_usr(root)  # an unreadable id, another system: said as such
        found = consistency.disagreements(root, dbs)
        if not found:
            recover(root, dbs, progress)
            found = consistency.disagreements(root, dbs)
        if found and refuse_disagreement:
            raise consistency.refusal(found)
        if not found:
            switching = interrupted_switch(dbs)
            settle_after_boot(root, dbs, progress, interrupted=switching)
            note_unrecorded_activation(root, dbs)
            settle_interrupted_switch(root, dbs, switching, progress)
        yield dbs
