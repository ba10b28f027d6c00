"""``moss state list``'s rows, read with the fewest modules Python can load (issue 27).

The rows come from :func:`state_rows`, which :func:`moss.states.listing.list_states`
uses too, so both give the same answer from the same databases.  :func:`quick_states`
opens the databases through :func:`moss.db.quickopen.open_quietly`, without the
classes that load the stone format and ``dataclasses``, which cost more than the rest
of the command.  Whenever anything is out of the ordinary (a database that fails to
open, a legacy schema, a bad value, any error), it answers None and the full reader
runs from the start.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from moss.core.ondisk import parse_state_id
from moss.core.rootpaths import RootPaths, read_state_id, refuse_borrowed
from moss.db import staterows
from moss.db.extras import ExtrasDB
from moss.db.quickopen import close, open_quietly

#: StateInfo's fields in order: id, created, summary, packages, active, pending,
#: booted, activated.
Row = tuple[int, int, str, int, bool, bool, bool, "str | None"]

#: What the pivot agent records of the last boot-time switch, under the root.
PIVOT_RECORD = Path("run/moss/pivot.json")

PivotFields = tuple["int | None", "int | None", "int | None", str, str, float]


def pivot_record(root: RootPaths) -> PivotFields | None:
    """The agent's record (requested, previous, active, result, reason, time), or None
    when there is none or it cannot be read (:class:`moss.states.afterboot.PivotRecord`)."""
    try:
        text = (root.path / PIVOT_RECORD).read_text()
    except (OSError, ValueError):
        return None
    import json  # only when the agent left a record

    try:
        raw = json.loads(text)
    except (ValueError, RecursionError):  # not JSON, nested too deep
        return None
    if not isinstance(raw, dict):
        return None

    def number(key: str) -> int | None:
        value = raw.get(key)
        return value if isinstance(value, int) else None

    return (number("requested"), number("previous"), number("active"),
            str(raw.get("result", "")), str(raw.get("reason", "")),
            float(raw.get("time", 0) or 0))


def state_rows(root: RootPaths, state: sqlite3.Connection, state_path: Path,
               extras: ExtrasDB) -> list[Row]:
    """Every state, oldest first, with its marks, from the open databases."""
    active = read_state_id(root.usr)
    value = extras.get_setting(staterows.PENDING_KEY)
    pending = parse_state_id(value) if value else None
    record = pivot_record(root)
    booted = record[2] if record else None
    how = {s: kind for s, kind, _, _ in extras.activations()}  # the last wins
    rows: list[Row] = []
    for (state_id,) in state.execute("SELECT id FROM state ORDER BY id").fetchall():
        found = staterows.read_state(state, state_path, state_id)
        if found is None:
            continue
        (sid, created, summary, _), selections = found
        rows.append((sid, created, summary, len(selections), sid == active, sid == pending,
                     sid == booted, how.get(sid)))
    return rows


def quick_states(root_path: Path) -> list[Row] | None:
    """The rows of ``state list``, or None for the full reader to answer."""
    root = RootPaths(root_path)
    if not root.db.is_dir():
        return []  # no state yet; and a query must not create databases
    refuse_borrowed(root)
    opened = open_quietly(root)
    if opened is None:
        return None
    paths, extras, install, state, layout = opened
    try:
        return state_rows(root, state, paths["state"], extras)
    except Exception:  # the full reader meets it again and reports it
        return None
    finally:
        close([extras.conn, install, state, layout])
