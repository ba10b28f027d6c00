"""How every command that changes a root begins.

Under the lock, and before it looks at anything: repair what an interrupted
moss or pivot agent left (:mod:`moss.states.recovery`), then settle a switch of
states the agent made at boot (:mod:`moss.states.afterboot`) and a live switch
that was cut off before its boot entries were written (:mod:`moss.states.window`).
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
from moss.core.root import Root
from moss.db.databases import Databases, databases
from moss.states.afterboot import settle_after_boot
from moss.states.recovery import note_unrecorded_activation, recover
from moss.states.window import interrupted_switch, settle_interrupted_switch


@contextlib.contextmanager
def mutating(root: Root, *, wait: bool = True, progress: Progress = QUIET
             ) -> Iterator[Databases]:
    namespace.enter_writable(root.path)
    with fs.locked(root.lockfile, wait=wait), inhibited("Applying new state"), \
            databases(root, writable=True) as dbs:
        recover(root, dbs, progress)
        switching = interrupted_switch(dbs)
        settle_after_boot(root, dbs, progress, interrupted=switching)
        note_unrecorded_activation(root, dbs)
        settle_interrupted_switch(root, dbs, switching, progress)
        yield dbs
