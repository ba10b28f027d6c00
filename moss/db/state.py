"""The state database: every state (transaction) and the packages it selects.

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

from moss.core.ondisk import parse_state_id
from moss.db import open_database

MIGRATIONS = [
    """
    CREATE TABLE state (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created INTEGER NOT NULL,
        summary TEXT NOT NULL,
        description TEXT NOT NULL
    );
    CREATE TABLE selections (
        state INTEGER NOT NULL REFERENCES state(id) ON DELETE CASCADE,
        package TEXT NOT NULL,
        explicit INTEGER NOT NULL,
        reason TEXT,
        PRIMARY KEY (state, package)
    )
    """,
    # The state a reboot will apply (a deferred kernel update), if any.
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL)
    """,
    # Subscriptions: which were on for each state, and the paths its tree left out
    # on purpose ('dropped') or that depmod rewrote ('regenerated').
    """
    CREATE TABLE state_subscriptions (
        state INTEGER NOT NULL REFERENCES state(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        PRIMARY KEY (state, name)
    );
    CREATE TABLE filtered_paths (
        state INTEGER NOT NULL REFERENCES state(id) ON DELETE CASCADE,
        target TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (state, target)
    )
    """,
]


PENDING_KEY = "pending"


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
    def __init__(self, path: Path, *, writable: bool = True, refuse_blank: bool = False) -> None:
        self.path = path
        self.conn = open_database(path, MIGRATIONS, writable=writable, refuse_blank=refuse_blank)

    def close(self) -> None:
        self.conn.close()

    def reserve_id(self) -> int:
        """The id the next state will get; nothing is written."""
        row = self.conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'state'").fetchone()
        return (row[0] if row else 0) + 1

    def add(self, summary: str, selections: Iterable[Selection], description: str = "",
            min_id: int = 1, created: int | None = None) -> int:
        """Record a new state; its id is at least ``min_id`` (ids found on disk)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            state_id = max(self.reserve_id(), min_id)
            self.conn.execute(
                "INSERT INTO state (id, created, summary, description) VALUES (?, ?, ?, ?)",
                (state_id, int(time.time()) if created is None else created, summary,
                 description),
            )
            self.conn.executemany(
                "INSERT INTO selections (state, package, explicit, reason) VALUES (?, ?, ?, ?)",
                [(state_id, s.package, int(s.explicit), s.reason) for s in selections],
            )
        return state_id

    def get(self, state_id: int) -> StateRecord | None:
        row = self.conn.execute(
            "SELECT id, created, summary, description FROM state WHERE id = ?", (state_id,)
        ).fetchone()
        if row is None:
            return None
        record = StateRecord(*row)
        record.selections = [
            Selection(package, bool(explicit), reason)
            for package, explicit, reason in self.conn.execute(
                "SELECT package, explicit, reason FROM selections WHERE state = ?"
                " ORDER BY package", (state_id,))
        ]
        return record

    def ids(self) -> list[int]:
        return [r[0] for r in self.conn.execute("SELECT id FROM state ORDER BY id")]

    def all(self) -> list[StateRecord]:
        return [r for i in self.ids() if (r := self.get(i)) is not None]

    def remove(self, state_ids: Iterable[int]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM state WHERE id = ?", [(i,) for i in state_ids])

    def referenced_packages(self) -> set[str]:
        return {r[0] for r in self.conn.execute("SELECT DISTINCT package FROM selections")}

    def pending(self) -> int | None:
        """The state a reboot will apply (a deferred update), if any."""
        value = self.get_setting(PENDING_KEY)
        return parse_state_id(value) if value else None

    def set_pending(self, state_id: int | None) -> None:
        self.set_setting(PENDING_KEY, None if state_id is None else str(state_id))

    def get_setting(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def set_setting(self, key: str, value: str | None) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            if value is None:
                self.conn.execute("DELETE FROM settings WHERE key = ?", (key,))
            else:
                self.conn.execute(
                    "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value)
                )

    def set_filtered(self, state_id: int, subscriptions: Iterable[str],
                     paths: Iterable[tuple[str, str]]) -> None:
        """Record a state's active subscriptions and its ``(target, reason)`` filtered paths."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM state_subscriptions WHERE state = ?", (state_id,))
            self.conn.execute("DELETE FROM filtered_paths WHERE state = ?", (state_id,))
            self.conn.executemany(
                "INSERT INTO state_subscriptions (state, name) VALUES (?, ?)",
                [(state_id, name) for name in subscriptions])
            self.conn.executemany(
                "INSERT INTO filtered_paths (state, target, reason) VALUES (?, ?, ?)",
                [(state_id, target, reason) for target, reason in paths])

    def subscriptions(self, state_id: int) -> list[str]:
        return [r[0] for r in self.conn.execute(
            "SELECT name FROM state_subscriptions WHERE state = ? ORDER BY name", (state_id,))]

    def filtered(self, state_id: int) -> dict[str, str]:
        """Target -> reason ('dropped' or 'regenerated') for a state's tree."""
        return {t: r for t, r in self.conn.execute(
            "SELECT target, reason FROM filtered_paths WHERE state = ?", (state_id,))}
