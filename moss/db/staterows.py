"""A ``state`` row and its selections as moss reads them, every value checked: shared
by :class:`moss.db.state.StateDB` and the ``state list`` that loads no dataclasses
(:mod:`moss.states.quicklist`, issue 27), so both read and refuse the same rows.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from moss.db import REBUILD_HINT, DatabaseError, rowcheck

#: The extras setting that names the state a reboot will apply (a deferred update).
PENDING_KEY = "pending"

STATE_ROW = "SELECT id, created, summary, description FROM state WHERE id = ?"
SELECTIONS = ("SELECT package_id, explicit, reason FROM state_selections WHERE state_id = ?"
              " ORDER BY package_id")


def read_state(conn: sqlite3.Connection, path: Path, state_id: int
               ) -> tuple[tuple[int, int, str, str], list[tuple[str, bool, str | None]]] | None:
    """State ``state_id``'s fields (:func:`state_fields`) and selections, in package order;
    None if there is no such state; a value moss cannot use is a DatabaseError naming it."""
    row = conn.execute(STATE_ROW, (state_id,)).fetchone()
    if row is None:
        return None
    try:
        fields = state_fields(row)
        selections = [selection_fields(r) for r in conn.execute(SELECTIONS, (fields[0],))]
    except ValueError as exc:
        raise DatabaseError(
            f"database {path}: state {state_id}: {exc}; {REBUILD_HINT}") from exc
    return fields, selections


def state_fields(row: tuple[object, ...]) -> tuple[int, int, str, str]:
    """id, created, summary, description of a :data:`STATE_ROW` row; BadValue if one
    is outside what moss can use."""
    return (rowcheck.integer(row[0], "id", 1), timestamp(row[1]),
            rowcheck.optional_text(row[2], "summary") or "",
            rowcheck.optional_text(row[3], "description") or "")


def selection_fields(row: tuple[object, ...]) -> tuple[str, bool, str | None]:
    """package, explicit, reason of a :data:`SELECTIONS` row, checked."""
    package, explicit, reason = row
    return (rowcheck.text(package, "package_id"), bool(explicit),
            rowcheck.optional_text(reason, "reason"))


def timestamp(value: object) -> int:
    """``created`` as unix seconds: real moss writes an integer (``unixepoch()``);
    a diesel-era root may hold ``YYYY-MM-DD HH:MM:SS`` text."""
    if isinstance(value, int):
        return rowcheck.integer(value, "created", 0, rowcheck.TIME_MAX)
    from datetime import UTC, datetime  # only for a diesel-era row

    try:
        return int(datetime.fromisoformat(str(value)).replace(tzinfo=UTC).timestamp())
    except ValueError:
        return 0
