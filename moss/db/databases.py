"""The databases of one root, opened and closed together.

Real moss's three (``install``, ``state``, ``layout``, its exact schemas) and
this moss's ``extras`` (:mod:`moss.db.extras`), which real moss never opens.

This is where moss decides whether its databases can be trusted.  A database
with no tables while the disk holds states (a zero-length file after a full
disk, a bad restore) is refused rather than taken for an empty system, which
would make the next transaction build on nothing and a prune delete every
state.  SQLite errors raised while the databases are in use become one
:class:`DatabaseError` line naming the damaged file.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from moss.core.root import Root, refuse_borrowed
from moss.core.rootpaths import holds_states
from moss.db import REBUILD_HINT, DatabaseError, describe_failure, legacyprobe, quick_check
from moss.db import extras as extras_db
from moss.db.extras import ExtrasDB
from moss.db.install import InstallDB
from moss.db.layout import LayoutDB
from moss.db.state import StateDB

#: Real moss's three databases, then this moss's own (a name real moss never opens).
REAL_NAMES = legacyprobe.REAL_NAMES
NAMES = (*REAL_NAMES, extras_db.NAME)


@dataclass
class Databases:
    install: InstallDB
    state: StateDB
    layout: LayoutDB
    extras: ExtrasDB

    def close(self) -> None:
        self.install.close()
        self.state.close()
        self.layout.close()
        self.extras.close()

    def connections(self) -> list[tuple[Path, sqlite3.Connection]]:
        return [(db.path, db.conn)
                for db in (self.install, self.state, self.layout, self.extras)]


def root_holds_states(root: Root) -> bool:
    """Whether the disk shows a system: a state tree, or blobs in the store."""
    return holds_states(root)


def open_databases(root: Root, *, writable: bool = True) -> Databases:
    """Open all four, or none: a damaged one closes those already open.

    Databases of this project's earlier releases are upgraded to real moss's
    schemas first when ``writable`` (the caller holds the lock), and converted
    in memory when not, so a query on such a root still writes nothing.  The
    converter (:mod:`moss.db.legacy`) is imported only for such a root.  A root
    whose ``.moss`` folders link to another root's is refused first.
    """
    refuse_borrowed(root)
    if writable:
        if legacyprobe.upgrade_pending(root.moss):
            from moss.db import legacy

            legacy.upgrade(root.moss)
        return open_set(legacyprobe.current_paths(root.moss),
                        refuse_blank=root_holds_states(root))
    try:
        dbs = open_set(legacyprobe.current_paths(root.moss), writable=False,
                       refuse_blank=root_holds_states(root))
    except DatabaseError:
        if not legacyprobe.is_legacy(root.db):
            raise
        return _converted(root)  # a legacy schema this moss's open refuses (newer, blank)
    try:
        legacy_found = legacyprobe.marked(
            (name, db.conn) for name, db in (("install", dbs.install), ("state", dbs.state),
                                             ("layout", dbs.layout)))
    except sqlite3.DatabaseError as exc:
        message = _blame(dbs, exc)
        dbs.close()
        raise DatabaseError(message) from exc
    if not legacy_found:
        return dbs
    dbs.close()
    return _converted(root)


def _converted(root: Root) -> Databases:
    """A legacy root's databases, converted into private in-memory ones."""
    from moss.db import legacy

    dbs = open_set({name: Path(legacyprobe.MEMORY) for name in NAMES})
    try:
        legacy.convert(root.db, dbs.install, dbs.state, dbs.layout)
    except BaseException:
        dbs.close()
        raise
    return dbs


def open_set(paths: dict[str, Path], *, writable: bool = True,
             refuse_blank: bool = False) -> Databases:
    """The four databases at ``paths`` (by name; \":memory:\" for a private one)."""
    opened: list[InstallDB | StateDB | LayoutDB | ExtrasDB] = []
    try:
        extras = ExtrasDB(paths[extras_db.NAME], writable=writable)
        opened.append(extras)
        install = InstallDB(paths["install"], writable=writable, refuse_blank=refuse_blank)
        opened.append(install)
        state = StateDB(paths["state"], extras, writable=writable, refuse_blank=refuse_blank)
        opened.append(state)
        layout = LayoutDB(paths["layout"], extras, writable=writable,
                          refuse_blank=refuse_blank)
    except BaseException:
        for db in opened:
            db.close()
        raise
    return Databases(install=install, state=state, layout=layout, extras=extras)


@contextlib.contextmanager
def databases(root: Root, *, writable: bool = False) -> Iterator[Databases]:
    """The root's databases for the length of a block, closed however it ends.

    Read-only unless ``writable``: queries write nothing, and work on a
    read-only root.  An SQLite error inside the block names the damaged file.
    """
    dbs = open_databases(root, writable=writable)
    try:
        yield dbs
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(_blame(dbs, exc)) from exc
    finally:
        dbs.close()


def _blame(dbs: Databases, exc: sqlite3.DatabaseError) -> str:
    """The line for an error met in use: which file SQLite itself finds damaged."""
    for path, conn in dbs.connections():
        problem = quick_check(conn)
        if problem is not None:
            return describe_failure(path, sqlite3.DatabaseError(problem))
    text = str(exc)
    if "readonly" in text or "locked" in text:
        return describe_failure(dbs.state.path.parent, exc)
    return f"a database in {dbs.state.path.parent} failed ({text}); {REBUILD_HINT}"
