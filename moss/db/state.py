"""The state database: every state (transaction) and the packages it selects.

Real moss's ``state``/``state_selections`` schema, filled as real moss fills it
(``type`` = ``transaction``, ``created`` in unix seconds).  What only this moss
records about a state (subscriptions, filtered paths, the pending state) lives
in :mod:`moss.db.extras`.

A state's row is written before its tree is activated; recovery deletes rows
whose tree never made it to disk, so a row always means a tree exists.  Ids
come from AUTOINCREMENT and are never reused, so a boot entry's
``moss.fstx=<id>`` can never come to mean a different state.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from moss.core.faults import checkpoint
from moss.core.ondisk import parse_state_id
from moss.db import REBUILD_HINT, DatabaseError, open_database, schemas, staterows
from moss.db.extras import ExtrasDB

MIGRATIONS = schemas.STATE

#: ``state.type``: the only kind real moss knows (its ``state::Kind``).
KIND = "transaction"

PENDING_KEY = staterows.PENDING_KEY


@dataclass(frozen=True)
class Selection:
    package: str
    explicit: bool
    reason: str | None = None


@dataclass
class StateRecord:
    id: int
    created: int
    summary: str
    description: str
    selections: list[Selection] = field(default_factory=list)


class StateDB:
    """Real moss's ``state`` and ``state_selections``, plus this moss's extras for them.

    Per-state extras are written before the state's row and forgotten after it
    (see :mod:`moss.db.extras`), so recovery can always sweep what a crash left.
    """

    def __init__(self, path: Path, extras: ExtrasDB, *, writable: bool = True,
                 refuse_blank: bool = False) -> None:
        self.path = path
        self.extras = extras
        self.conn = open_database(path, MIGRATIONS, writable=writable, refuse_blank=refuse_blank)

    def close(self) -> None:
        self.conn.close()

    def reserve_id(self) -> int:
        """The id the next state will get; nothing is written."""
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'state'").fetchone()
        return (row[0] if row else 0) + 1

    def next_id(self, min_id: int = 1) -> int:
        """The id :meth:`add` will give, at least ``min_id`` (ids found on disk)."""
        return max(self.reserve_id(), min_id)

    def add(self, summary: str, selections: Iterable[Selection], description: str = "",
            min_id: int = 1, created: int | None = None, state_id: int | None = None) -> int:
        """Record a new state as real moss does (``type`` = ``transaction``)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            state_id = self.next_id(min_id) if state_id is None else state_id
            self.conn.execute(
                "INSERT INTO state (id, type, created, summary, description)"
                " VALUES (?, ?, ?, ?, ?)",
                (state_id, KIND, int(time.time()) if created is None else created,
                 summary or None, description or None),
            )
            self.conn.executemany(
                "INSERT INTO state_selections (state_id, package_id, explicit, reason)"
                " VALUES (?, ?, ?, ?)",
                [(state_id, s.package, s.explicit, s.reason) for s in selections],
            )
        return state_id

    def get(self, state_id: int) -> StateRecord | None:
        found = staterows.read_state(self.conn, self.path, state_id)
        if found is None:
            return None
        fields, selections = found
        return StateRecord(*fields, [Selection(*s) for s in selections])

    def ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM state ORDER BY id")]

    def all(self) -> list[StateRecord]:
        return [r for i in self.ids() if (r := self.get(i)) is not None]

    def remove(self, state_ids: Iterable[int]) -> None:
        """Rows first, extras after: a crash between leaves extras recovery sweeps."""
        ids = list(state_ids)
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM state WHERE id = ?", [(i,) for i in ids])
        checkpoint("db:state-rows-removed")
        self.extras.forget_states(ids)

    def selecting_nothing(self) -> list[int]:
        """States whose rows select no package: an empty system, or lost selections."""
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM state WHERE id NOT IN (SELECT state_id FROM state_selections)"
            " ORDER BY id")]

    def referenced_packages(self) -> set[str]:
        return {r[0] for r in self.conn.execute(
            "SELECT DISTINCT package_id FROM state_selections")}

    def pending(self) -> int | None:
        """The state a reboot will apply (a deferred update), if any."""
        value = self.get_setting(PENDING_KEY)
        return parse_state_id(value) if value else None

    def set_pending(self, state_id: int | None) -> None:
        self.set_setting(PENDING_KEY, None if state_id is None else str(state_id))

    def get_setting(self, key: str) -> str | None:
        return self.extras.get_setting(key)

    def set_setting(self, key: str, value: str | None) -> None:
        self.extras.set_setting(key, value)

    def set_filtered(self, state_id: int, subscriptions: Iterable[str],
                     paths: Iterable[tuple[str, str]]) -> None:
        """Record a state's active subscriptions and its ``(target, reason)`` filtered paths."""
        self.extras.set_filtered(state_id, subscriptions, paths)

    def subscriptions(self, state_id: int) -> list[str]:
        return self.extras.subscriptions(state_id) if self._extras_apply(state_id) else []

    def filtered(self, state_id: int) -> dict[str, str]:
        """Target -> reason ('dropped' or 'regenerated') for a state's tree."""
        return self.extras.filtered(state_id) if self._extras_apply(state_id) else {}

    def created(self) -> dict[int, int]:
        """Each state's ``created``, by id."""
        try:
            return {i: staterows.timestamp(c)
                    for i, c in self.conn.execute("SELECT id, created FROM state")}
        except ValueError as exc:
            raise DatabaseError(f"database {self.path}: {exc}; {REBUILD_HINT}") from exc

    def _extras_apply(self, state_id: int) -> bool:
        """Whether the extras for ``state_id`` are this state's (see ExtrasDB.claim)."""
        claim = self.extras.claim_of(state_id)
        if claim is None:
            return True
        row = self.conn.execute("SELECT created FROM state WHERE id = ?", (state_id,)).fetchone()
        try:
            return row is not None and staterows.timestamp(row[0]) == claim
        except ValueError as exc:
            raise DatabaseError(
                f"database {self.path}: state {state_id}: {exc}; {REBUILD_HINT}") from exc
