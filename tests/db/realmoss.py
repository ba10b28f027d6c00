"""Real moss's databases, as real moss writes and reads them, for the compatibility tests.

The schemas are the reference SQL (``tests/data/realmoss/``, verbatim
from AerynOS/os-tools); the SQL strings below are copied from its
``moss/src/db/{state,meta,layout}/mod.rs``.  Where real moss binds a list with
``rarray(?)`` (its carray extension, which Python's sqlite3 lacks) the same
query takes ``(SELECT value FROM json_each(?))`` instead.  Nothing here uses
this moss's own database code: it is the other implementation.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from moss.stone import FileKind, open_stone
from moss.store.incoming import IncomingPackage, read_package
from tests.conftest import REALMOSS_SCHEMAS, STONE_TESTDATA

REFERENCE = REALMOSS_SCHEMAS
STONES = STONE_TESTDATA
SCHEMAS = {"install": "meta-v1_up.sql", "state": "state-v1_up.sql", "layout": "layout-v1_up.sql"}

# moss/src/db/state/mod.rs: Database::add and query_states
STATE_INSERT = "INSERT INTO state (type, summary, description) VALUES (?, ?, ?)"
SELECTION_INSERT = ("INSERT INTO state_selections (state_id, package_id, explicit, reason)"
                    " VALUES (?,?,?,?)")
STATE_QUERY = """
                SELECT
                    s.id, s.summary, s.description, s.created, s.type,
                    json_group_array(
                        json_object(
                            'package_id', ss.package_id,
                            'explicit',   ss.explicit,
                            'reason',     ss.reason
                        )
                    ) FILTER (WHERE ss.package_id IS NOT NULL) AS selections
                FROM state s
                LEFT JOIN state_selections ss ON s.id = ss.state_id
                WHERE s.id = ?1 OR ?1 IS NULL
                GROUP BY s.id
                ORDER BY s.id
"""
# moss/src/db/meta/mod.rs: Database::batch_add and query
META_INSERT = """
                    INSERT OR REPLACE
                    INTO meta
                        (package, name, version_identifier, source_release, build_release,
                        architecture, summary, description, source_id, homepage, uri,
                        hash, download_size)
                    VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)"""
LIST_INSERTS = {
    "licenses": "INSERT OR IGNORE INTO meta_licenses (package, license) VALUES (?,?)",
    "dependencies": "INSERT OR IGNORE INTO meta_dependencies (package, dependency) VALUES (?,?)",
    "providers": "INSERT OR IGNORE INTO meta_providers (package, provider) VALUES (?,?)",
    "conflicts": "INSERT OR IGNORE INTO meta_conflicts (package, conflict) VALUES (?,?)",
}
META_BY_ID = "SELECT * FROM meta WHERE package = ?"
META_ALL = "SELECT * FROM meta"
PROVIDERS_OF = "SELECT * from meta_providers WHERE package in (SELECT value FROM json_each(?))"
DEPENDENCIES_OF = ("SELECT * from meta_dependencies WHERE package in"
                   " (SELECT value FROM json_each(?))")
# moss/src/db/layout/mod.rs: Database::batch_add and query
LAYOUT_INSERT = """
                        INSERT INTO layout
        (package_id, uid, gid, mode, tag, entry_type, entry_value1, entry_value2)
                        VALUES
                            (?,?,?,?,?,?,?,?)
                        """
LAYOUT_OF = "SELECT * FROM layout WHERE package_id IN (SELECT value FROM json_each(?))"
# moss/src/db/{meta,layout}/mod.rs: the ids real moss's prune keeps
LAYOUT_PACKAGE_IDS = "SELECT DISTINCT package_id FROM layout"


@contextlib.contextmanager
def connect(db: Path, name: str) -> Iterator[sqlite3.Connection]:
    """Open as real moss does (``Database::new``): default journal, foreign keys on,
    its schema applied only when ``user_version`` is lower, in one transaction."""
    conn = sqlite3.connect(db / name, isolation_level=None)
    try:
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA foreign_keys = ON")
        if conn.execute("PRAGMA user_version").fetchone()[0] < 1:
            conn.execute("BEGIN")
            for statement in (REFERENCE / SCHEMAS[name]).read_text().split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("PRAGMA user_version = 1")
            conn.execute("COMMIT")
        yield conn
    finally:
        conn.close()


def encode_file(kind: FileKind, source: bytes | str, target: str) -> tuple[str, str, str | None]:
    """moss/src/db/layout/types.rs ``encode_file``: the hash as a decimal u128."""
    if kind is FileKind.REGULAR:
        assert isinstance(source, bytes)
        return "regular", str(int.from_bytes(source, "big")), target
    if kind is FileKind.SYMLINK:
        return "symlink", str(source), target
    names = {FileKind.DIRECTORY: "directory", FileKind.CHAR_DEVICE: "character-device",
             FileKind.BLOCK_DEVICE: "block-device", FileKind.FIFO: "fifo",
             FileKind.SOCKET: "socket"}
    return names[kind], target, None


def asset_path(root: Path, digest: int) -> Path:
    """moss/src/client/cache.rs ``asset_path``: ``{hash:02x}``, three levels of fan-out."""
    h = format(digest, "02x")
    base = root / ".moss/assets/v2"
    return base / h[:2] / h[2:4] / h[4:6] / h if len(h) >= 10 else base / h


def dep_string(dep: object) -> str:
    """``kind(name)`` always, as real moss's ``Dependency`` displays (``name(x)`` too)."""
    text = str(dep)
    return text if "(" in text and text.endswith(")") else f"name({text})"


def record_package(db: Path, package: IncomingPackage) -> None:
    meta = package.meta
    with connect(db, "install") as conn:
        conn.execute("BEGIN")
        conn.execute(META_INSERT, (package.id, meta.name, meta.version, meta.release,
                                   meta.build_release, meta.architecture, meta.summary,
                                   meta.description, meta.source_id, meta.homepage, meta.uri,
                                   meta.hash, meta.size))
        lists = {"licenses": meta.licenses, "dependencies": [dep_string(d) for d in meta.depends],
                 "providers": [dep_string(p) for p in meta.provides],
                 "conflicts": [dep_string(c) for c in meta.conflicts]}
        for key, values in lists.items():
            conn.executemany(LIST_INSERTS[key], [(package.id, v) for v in values])
        conn.execute("COMMIT")
    with connect(db, "layout") as conn:
        conn.execute("BEGIN")
        conn.executemany(LAYOUT_INSERT, [
            (package.id, e.uid, e.gid, e.mode, e.tag, *encode_file(e.file_kind, e.source,
                                                                   e.target))
            for e in package.layout])
        conn.execute("COMMIT")


def unpack(root: Path, package: IncomingPackage) -> None:
    """Store the content as real moss does: one blob per digest under ``assets/v2``."""
    with open_stone(package.path) as reader:
        for entry, chunks in reader.iter_content():
            path = asset_path(root, entry.digest)
            path.parent.mkdir(parents=True, exist_ok=True)
            data = b"".join(chunks)
            if not path.exists():
                path.write_bytes(data)


def blit(root: Path, usr: Path, packages: list[IncomingPackage]) -> None:
    for package in packages:
        for e in package.layout:
            dest = usr / e.target
            dest.parent.mkdir(parents=True, exist_ok=True)
            if e.file_kind is FileKind.DIRECTORY:
                dest.mkdir(exist_ok=True)
            elif e.file_kind is FileKind.SYMLINK:
                os.symlink(str(e.source), dest)
            elif e.file_kind is FileKind.REGULAR:
                blob = asset_path(root, e.digest)
                if blob.exists():
                    os.link(blob, dest)
                else:
                    dest.write_bytes(b"")
                os.chmod(dest, e.mode & 0o7777)


def build_root(root: Path, names: list[str]) -> list[IncomingPackage]:
    """A root exactly as real moss leaves it after installing ``names`` (state 1)."""
    db = root / ".moss/db"
    db.mkdir(parents=True)
    packages = [read_package(STONES / name) for name in names]
    for package in packages:
        unpack(root, package)
        record_package(db, package)
    with connect(db, "state") as conn:
        conn.execute("BEGIN")
        state_id = conn.execute(STATE_INSERT, ("transaction", "install", None)).lastrowid
        conn.executemany(SELECTION_INSERT, [(state_id, p.id, True, None) for p in packages])
        conn.execute("COMMIT")
    (root / "usr").mkdir()
    blit(root, root / "usr", packages)
    (root / "usr/.stateID").write_text(str(state_id))
    return packages


def states(db: Path) -> list[dict[str, Any]]:
    """What real moss's ``state::Database::all`` returns, as dicts."""
    with connect(db, "state") as conn:
        rows = conn.execute(STATE_QUERY, (None,)).fetchall()
    return [{"id": r["id"], "summary": r["summary"], "created": r["created"], "type": r["type"],
             "selections": sorted((s["package_id"], bool(s["explicit"]))
                                  for s in json.loads(r["selections"]))} for r in rows]


def metas(db: Path) -> dict[str, dict[str, Any]]:
    with connect(db, "install") as conn:
        return {r["package"]: dict(r) for r in conn.execute(META_ALL)}


def layouts(db: Path, package_ids: list[str]) -> dict[str, list[tuple[str, str, str | None]]]:
    """Each package's (entry_type, entry_value1, entry_value2), decoded as real moss does."""
    found: dict[str, list[tuple[str, str, str | None]]] = {}
    with connect(db, "layout") as conn:
        for r in conn.execute(LAYOUT_OF, (json.dumps(package_ids),)):
            if r["entry_type"] == "regular":
                int(r["entry_value1"])  # real moss parses a u128: must be decimal
                assert r["entry_value2"] is not None
            found.setdefault(r["package_id"], []).append(
                (r["entry_type"], r["entry_value1"], r["entry_value2"]))
    return found
