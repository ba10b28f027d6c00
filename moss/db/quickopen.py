"""A root's four databases opened read-only with the fewest modules Python can load,
for the queries that skip the dataclasses (``state list``, ``info``: issue 27).

They open as :func:`moss.db.databases.open_databases` opens them read-only (the same
files, order, checks and refusals, through :func:`moss.db.open_database`), but
whenever anything is out of the ordinary (a database that fails to open, a legacy
schema) the answer is None and the caller runs the full reader from the start: that
one converts, refuses or names the damaged file, so a quick path never decides what
is wrong, only that nothing is.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from moss.core.rootpaths import RootPaths, holds_states
from moss.db import extras as extras_db
from moss.db import open_database, schemas
from moss.db.extras import ExtrasDB
from moss.db.legacyprobe import current_paths, marked

#: The files by name, the extras database, then the install, state and layout
#: connections.
Opened = tuple[dict[str, Path], ExtrasDB, sqlite3.Connection, sqlite3.Connection,
               sqlite3.Connection]


def open_quietly(root: RootPaths) -> Opened | None:
    """The four databases, or None (nothing left open) for the full reader to answer."""
    paths = current_paths(root.moss)
    blank = holds_states(root)
    opened: list[sqlite3.Connection] = []
    try:
        extras = ExtrasDB(paths[extras_db.NAME], writable=False)
        opened.append(extras.conn)
        for name, migrations in (("install", schemas.INSTALL), ("state", schemas.STATE),
                                 ("layout", schemas.LAYOUT)):
            opened.append(open_database(paths[name], migrations, writable=False,
                                        refuse_blank=blank))
        if not marked(zip(("install", "state", "layout"), opened[1:], strict=True)):
            return paths, extras, opened[1], opened[2], opened[3]
    except Exception:  # the full reader meets it again and reports it
        pass
    close(opened)  # a legacy schema, converted in memory by the full reader; or a failure
    return None


def close(conns: list[sqlite3.Connection]) -> None:
    for conn in conns:
        conn.close()
