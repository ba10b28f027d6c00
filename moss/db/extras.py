"""What only this moss records, in ``.moss/db/extras``, a file real moss never opens.

Real moss's three databases (``install``, ``state``, ``layout``) hold exactly
its v1 schemas, so either implementation can take over a root the other built.
Everything this moss adds lives here instead: the BLAKE3 digest, mode, owner,
size, mtime and inode of each store blob; each state's subscriptions and the
paths its tree left out on purpose; settings such as the pending state; and a
history of how each state became active.

Rows here name states and blobs; the real tables are the truth.  Per-state
rows are written *before* the state's real row and deleted *after* it, so a
crash leaves at most extras naming a state the real tables do not have, which
:meth:`ExtrasDB.sweep` (run by recovery) deletes.  An asset row without a
layout row naming its digest is harmless (it describes a blob that is in the
store) and ``state prune`` drops it with the blob.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from moss.db import REBUILD_HINT, DatabaseError, open_database, rowcheck

NAME = "extras"

MIGRATIONS = [
    """
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE state_claims (state INTEGER PRIMARY KEY, created INTEGER NOT NULL);
    CREATE TABLE state_subscriptions (
        state INTEGER NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (state, name)
    );
    CREATE TABLE filtered_paths (
        state INTEGER NOT NULL,
        target TEXT NOT NULL,
        reason TEXT NOT NULL,
        PRIMARY KEY (state, target)
    );
    CREATE TABLE activations (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        state INTEGER NOT NULL,
        how TEXT NOT NULL,
        previous INTEGER,
        at INTEGER NOT NULL
    );
    CREATE TABLE assets (
        digest TEXT PRIMARY KEY,
        blake3 TEXT NOT NULL,
        size INTEGER NOT NULL,
        mode INTEGER,
        uid INTEGER,
        gid INTEGER,
        mtime INTEGER,
        inode INTEGER
    )
    """,
]

#: How a state became active (``activations.how``).
TRANSACTION = "transaction"
ROLLBACK = "rollback"
BOOT_MENU = "boot-menu"
BOOT_FALLBACK = "boot-fallback"
UNRECORDED = "unrecorded"  # found active with no record: real moss, or a crash before the record

# digest, blake3, size, mode, uid, gid, mtime (ns), inode
AssetRow = tuple[str, str, int, int, int, int, int, int]
# blake3, size, mtime, inode: what a transaction checks a blob against
AssetRecord = tuple[str, int, int | None, int | None]
_PER_STATE = ("state_claims", "state_subscriptions", "filtered_paths", "activations")


class ExtrasDB:
    def __init__(self, path: Path, *, writable: bool = True) -> None:
        self.path = path
        self.conn = open_database(path, MIGRATIONS, writable=writable)

    def close(self) -> None:
        self.conn.close()

    # -- settings ------------------------------------------------------------
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
                    "INSERT OR REPLACE INTO settings (key, value) VALUES (?, ?)", (key, value))

    # -- per state -------------------------------------------------------------
    def set_filtered(self, state_id: int, subscriptions: Iterable[str],
                     paths: Iterable[tuple[str, str]]) -> None:
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
        return {t: r for t, r in self.conn.execute(
            "SELECT target, reason FROM filtered_paths WHERE state = ?", (state_id,))}

    def record_activation(self, state_id: int, how: str, previous: int | None) -> None:
        """Remember that ``state_id`` became active, and how (see the constants above)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute(
                "INSERT INTO activations (state, how, previous, at) VALUES (?, ?, ?, ?)",
                (state_id, how, previous, int(time.time())))

    def activations(self) -> list[tuple[int, str, int | None, int]]:
        """Every recorded activation, oldest first: (state, how, previous, unix time)."""
        return [(s, h, p, a) for s, h, p, a in self.conn.execute(
            "SELECT state, how, previous, at FROM activations ORDER BY id")]

    def forget_states(self, state_ids: Iterable[int]) -> None:
        ids = [(i,) for i in state_ids]
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            for table in _PER_STATE:
                self.conn.executemany(f"DELETE FROM {table} WHERE state = ?", ids)

    def claim(self, state_id: int, created: int) -> None:
        """Written before a new state's real row, with the ``created`` it will have:
        extras of a crashed attempt never pass for those of a state real moss later
        gave the same id (its ``created`` differs)."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("INSERT OR REPLACE INTO state_claims (state, created) VALUES (?, ?)",
                              (state_id, created))

    def claim_of(self, state_id: int) -> int | None:
        row = self.conn.execute("SELECT created FROM state_claims WHERE state = ?",
                                (state_id,)).fetchone()
        return None if row is None else int(row[0])

    def sweep(self, known_states: dict[int, int]) -> list[int]:
        """Drop rows naming a state the real tables do not have (by id, and by
        ``created`` where claimed); ``known_states`` maps id to created."""
        named: set[int] = set()
        for table in _PER_STATE:
            named.update(r[0] for r in self.conn.execute(f"SELECT DISTINCT state FROM {table}"))
        claims = dict(self.conn.execute("SELECT state, created FROM state_claims").fetchall())
        stale = sorted(i for i in named if i not in known_states
                       or claims.get(i, known_states[i]) != known_states[i])
        if stale:
            self.forget_states(stale)
        return stale

    # -- store blobs -------------------------------------------------------------
    def add_assets(self, assets: Iterable[AssetRow]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR IGNORE INTO assets (digest, blake3, size, mode, uid, gid, mtime,"
                " inode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", assets)

    def asset_records(self) -> dict[str, AssetRecord]:
        with self._checked():
            return {_blob(d): (rowcheck.hex_digest(b3, "blake3", 64),
                               rowcheck.integer(size, "size"),
                               rowcheck.optional_integer(mtime, "mtime"),
                               rowcheck.optional_integer(inode, "inode"))
                    for d, b3, size, mtime, inode in self.conn.execute(
                        "SELECT digest, blake3, size, mtime, inode FROM assets")}

    def refresh_assets(self, seen: Iterable[tuple[str, int, int]]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("UPDATE assets SET mtime = ?, inode = ? WHERE digest = ?",
                                  [(mtime, inode, d) for d, mtime, inode in seen])

    def asset_attributes(self) -> dict[int, tuple[int, int, int]]:
        with self._checked():
            return {int(_blob(d), 16): (rowcheck.integer(mode, "mode", 0, rowcheck.MODE_MAX),
                                        rowcheck.integer(uid, "uid", 0, rowcheck.ID32_MAX),
                                        rowcheck.integer(gid, "gid", 0, rowcheck.ID32_MAX))
                    for d, mode, uid, gid in self.conn.execute(
                        "SELECT digest, mode, uid, gid FROM assets WHERE mode IS NOT NULL")}

    def all_assets(self) -> dict[str, str]:
        with self._checked():
            return {_blob(d): rowcheck.hex_digest(b, "blake3", 64)
                    for d, b in self.conn.execute("SELECT digest, blake3 FROM assets")}

    @contextlib.contextmanager
    def _checked(self) -> Iterator[None]:
        """A row value moss cannot use is this database's damage, said in one line."""
        try:
            yield
        except rowcheck.BadValue as exc:
            raise DatabaseError(f"database {self.path}: {exc}; {REBUILD_HINT}") from exc

    def remove_assets(self, digests: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM assets WHERE digest = ?", [(d,) for d in digests])


def _blob(digest: object) -> str:
    """A store blob's name: the XXH3-128 in at most 32 hex digits."""
    return rowcheck.hex_digest(digest, "digest", 32)
