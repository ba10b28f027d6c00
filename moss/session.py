"""How every command that changes a root begins.

Under the lock, and before it looks at anything: repair what an interrupted
moss or pivot agent left (:mod:`moss.recovery`), then settle a switch of
states the agent made at boot (:mod:`moss.afterboot`).  Every mutating
command enters through :func:`mutating`, so none can forget either step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from moss import fs
from moss.afterboot import settle_after_boot
from moss.db.databases import Databases, databases
from moss.progress import QUIET, Progress
from moss.recovery import recover
from moss.root import Root


@contextlib.contextmanager
def mutating(root: Root, *, wait: bool = True, progress: Progress = QUIET
             ) -> Iterator[Databases]:
    with fs.locked(root.lockfile, wait=wait), databases(root) as dbs:
        recover(root, dbs)
        settle_after_boot(root, dbs, progress)
        yield dbs
