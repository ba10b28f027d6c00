"""Databases of this project's earlier releases, upgraded once to real moss's schemas.

Before issue 14 this moss had schemas of its own (tables ``selections``,
``licenses``, ``depends``, ``assets``... at ``user_version`` 1 to 3), which real
moss cannot read.  The first mutating command on such a root (under the lock)
converts them, as a transaction of its own:

1. the old files are read (never written) and copied row by row into new
   databases built in ``.moss/db.upgrade/``;
2. once those are complete and synced, the ``complete`` marker is written;
3. each old file moves to ``.moss/db.legacy/`` (kept, never deleted) and its
   new one into ``.moss/db/``.

A crash before the marker leaves the old files in place and the next run starts
over; after it, the next run finishes step 3.  A query on a legacy root
converts in memory and writes nothing.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from moss.core import fs
from moss.core.faults import checkpoint
from moss.db import DatabaseError, describe_failure
from moss.db import extras as extras_db
from moss.db.install import InstallDB
from moss.db.layout import LayoutDB
from moss.db.legacyprobe import (
    COMPLETE,
    KEPT,
    MEMORY,
    REAL_NAMES,
    WORK,
    current_paths,
    is_legacy,
)
from moss.db.legacyprobe import read_only as _read_only
from moss.db.legacyprobe import tables as _tables
from moss.db.state import Selection, StateDB
from moss.stone import Dependency, FileKind, LayoutEntry, PackageMeta

# Re-exported: callers of this module's earlier releases find them here.
__all__ = ["COMPLETE", "KEPT", "MEMORY", "REAL_NAMES", "WORK", "convert", "current_paths",
           "is_legacy", "upgrade"]
_SUFFIXES = ("", "-wal", "-shm", "-journal")


def upgrade(moss_dir: Path) -> bool:
    """Convert a legacy root's databases (see the module docstring); True if it did."""
    db_dir, work = moss_dir / "db", moss_dir / WORK
    if (work / COMPLETE).exists():
        _finish(db_dir, work, moss_dir / KEPT)
        return True
    if not is_legacy(db_dir):
        if work.exists():
            fs.remove_tree(work)  # an upgrade that never completed, of files since replaced
        return False
    if work.exists():
        fs.remove_tree(work)
    work.mkdir(parents=True)
    extras = extras_db.ExtrasDB(work / extras_db.NAME)
    install = InstallDB(work / "install")
    state = StateDB(work / "state", extras)
    layout = LayoutDB(work / "layout", extras)
    try:
        convert(db_dir, install, state, layout)
    finally:
        for db in (install, state, layout, extras):
            db.close()
    fs.sync_filesystem(work)
    fs.atomic_write(work / COMPLETE, b"")
    checkpoint("upgrade:built")
    _finish(db_dir, work, moss_dir / KEPT)
    return True


def _finish(db_dir: Path, work: Path, kept: Path) -> None:
    """Move each old file aside and its new one in; idempotent, so a crash just reruns it."""
    kept.mkdir(exist_ok=True)
    for name in (*REAL_NAMES, extras_db.NAME):
        new = work / name
        if not new.exists():
            continue
        for suffix in _SUFFIXES:
            old = db_dir / f"{name}{suffix}"
            if os.path.lexists(old):
                os.rename(old, kept / old.name)
        os.rename(new, db_dir / name)
        checkpoint("upgrade:moved-one")
    fs.sync_filesystem(db_dir)
    (work / COMPLETE).unlink()
    fs.remove_tree(work)


def convert(db_dir: Path, install: InstallDB, state: StateDB, layout: LayoutDB) -> None:
    """Copy every row of the old databases in ``db_dir`` into the new ones.

    The old files are only read (a WAL left by a crash is read, never checkpointed
    into them), so the copies kept in ``.moss/db.legacy/`` are byte for byte what
    the earlier release left; each moves there with its ``-wal``, never to lie
    beside a new file.
    """
    old: dict[str, sqlite3.Connection] = {}
    try:
        for name in REAL_NAMES:
            path = db_dir / name
            exists = path.is_file() and path.stat().st_size > 0
            old[name] = _read_only(path) if exists else sqlite3.connect(MEMORY)
        _copy_install(old["install"], install)
        _copy_state(old["state"], state)
        _copy_layout(old["layout"], layout)
    except sqlite3.DatabaseError as exc:
        raise DatabaseError(describe_failure(db_dir, exc)) from exc
    finally:
        for conn in old.values():
            conn.close()


def _copy_install(old: sqlite3.Connection, install: InstallDB) -> None:
    tables = _tables(old)
    if "meta" not in tables:
        return
    lists: dict[str, dict[str, list[str]]] = {}
    for table, column in (("licenses", "license"), ("depends", "dependency"),
                          ("provides", "provider"), ("conflicts", "conflict")):
        by_package: dict[str, list[str]] = {}
        if table in tables:
            for package, value in old.execute(
                    f"SELECT package, {column} FROM {table} ORDER BY rowid"):
                by_package.setdefault(package, []).append(value)
        lists[table] = by_package
    for row in old.execute(
            "SELECT package, name, version, release, build_release, architecture, summary,"
            " description, homepage, source_id, uri, hash, size FROM meta"):
        package = row[0]
        install.add(package, PackageMeta(
            name=row[1], version=row[2], release=row[3], build_release=row[4],
            architecture=row[5], summary=row[6], description=row[7], homepage=row[8],
            source_id=row[9], uri=row[10], hash=row[11], size=row[12],
            licenses=lists["licenses"].get(package, []),
            depends=[Dependency.parse(d) for d in lists["depends"].get(package, [])],
            provides=[Dependency.parse(p) for p in lists["provides"].get(package, [])],
            conflicts=[Dependency.parse(c) for c in lists["conflicts"].get(package, [])]))


def _copy_state(old: sqlite3.Connection, state: StateDB) -> None:
    tables = _tables(old)
    if "state" not in tables:
        return
    selections: dict[int, list[Selection]] = {}
    for state_id, package, explicit, reason in old.execute(
            "SELECT state, package, explicit, reason FROM selections ORDER BY state, package"):
        selections.setdefault(state_id, []).append(Selection(package, bool(explicit), reason))
    for state_id, created, summary, description in old.execute(
            "SELECT id, created, summary, description FROM state ORDER BY id"):
        state.add(summary, selections.get(state_id, []), description, created=created,
                  state_id=state_id)
    row = old.execute("SELECT seq FROM sqlite_sequence WHERE name = 'state'").fetchone()
    if row is not None:  # ids are never reused, also those of pruned states
        with state.conn:
            state.conn.execute("BEGIN IMMEDIATE")
            state.conn.execute("UPDATE sqlite_sequence SET seq = max(seq, ?) WHERE name = 'state'",
                               (row[0],))
    _copy_state_extras(old, tables, state.extras)


def _copy_state_extras(old: sqlite3.Connection, tables: set[str],
                       extras: extras_db.ExtrasDB) -> None:
    if "settings" in tables:
        for key, value in old.execute("SELECT key, value FROM settings"):
            extras.set_setting(key, value)
    subscribed: dict[int, list[str]] = {}
    filtered: dict[int, list[tuple[str, str]]] = {}
    if "state_subscriptions" in tables:
        for state_id, name in old.execute("SELECT state, name FROM state_subscriptions"):
            subscribed.setdefault(state_id, []).append(name)
    if "filtered_paths" in tables:
        for state_id, target, reason in old.execute(
                "SELECT state, target, reason FROM filtered_paths"):
            filtered.setdefault(state_id, []).append((target, reason))
    for state_id in sorted(set(subscribed) | set(filtered)):
        extras.set_filtered(state_id, subscribed.get(state_id, []), filtered.get(state_id, []))


def _copy_layout(old: sqlite3.Connection, layout: LayoutDB) -> None:
    tables = _tables(old)
    if "layout" in tables:
        entries: dict[str, list[LayoutEntry]] = {}
        for package, uid, gid, mode, tag, kind, source, target in old.execute(
                "SELECT package, uid, gid, mode, tag, kind, source, target FROM layout"
                " ORDER BY rowid"):
            file_kind = FileKind(kind)
            value: bytes | str = source if file_kind is FileKind.REGULAR else bytes(
                source).decode()
            entries.setdefault(package, []).append(
                LayoutEntry(uid, gid, mode, tag, file_kind, value, target))
        for package, package_entries in entries.items():
            layout.add(package, package_entries)
    if "assets" in tables:
        columns = {r[1] for r in old.execute("PRAGMA table_info(assets)")}
        wanted = ["digest", "blake3", "size", "mode", "uid", "gid", "mtime", "inode"]
        select = ", ".join(c if c in columns else "NULL" for c in wanted)
        with contextlib.closing(old.execute(f"SELECT {select} FROM assets")) as rows:
            layout.add_assets(rows.fetchall())
