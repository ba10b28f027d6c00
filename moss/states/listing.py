"""The states of a root as ``moss state list`` and ``moss state active`` show them.

Read-only, and kept apart from :mod:`moss.states.operations` so that listing states
loads no activation, boot-entry or trigger code (issue 18: start-up time);
``operations`` re-exports these names for its callers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from moss.core.root import Root, read_state_id
from moss.db.databases import databases
from moss.states.quicklist import state_rows


@dataclass(frozen=True)
class StateInfo:
    """One row of ``moss state list`` (and of its ``--json``)."""

    id: int
    created: int
    summary: str
    packages: int
    active: bool
    pending: bool
    booted: bool  # the state this boot came up in, per the pivot agent's record
    # How it last became active: transaction, rollback, boot-menu, boot-fallback,
    # unrecorded (real moss made it so); None if it never was.
    activated: str | None = None

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "created": self.created, "summary": self.summary,
                "packages": self.packages, "active": self.active, "pending": self.pending,
                "booted": self.booted, "activated": self.activated}


def list_states(root_path: Path) -> list[StateInfo]:
    """Every state, oldest first, with its marks; none (and nothing created) on a new root."""
    root = Root(root_path)
    if not root.db.is_dir():
        return []  # no state yet; and a query must not create databases
    with databases(root) as dbs:
        return [StateInfo(*row) for row in state_rows(root, dbs.state.conn, dbs.state.path,
                                                      dbs.extras)]


def active_state(root_path: Path) -> int | None:
    """The live state's id, from the tree's ``.stateID``; None before the first install."""
    return read_state_id(Root(root_path).usr)
