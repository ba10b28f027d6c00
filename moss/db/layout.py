"""The layout database: every package's layout entries, and the asset digests.

Keeping every entry of every package (not just what a state blitted) is what
lets a state be rebuilt, verified or re-filtered without the ``.stone`` file.
The ``assets`` table holds the BLAKE3-256 recorded when a blob first entered the
store: XXH3 is not collision-resistant, so a second blob with the same XXH3 key
but a different BLAKE3 is store poisoning and is refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from moss.db import open_database
from moss.stone import FileKind, LayoutEntry

MIGRATIONS = [
    """
    CREATE TABLE layout (
        package TEXT NOT NULL,
        uid INTEGER NOT NULL,
        gid INTEGER NOT NULL,
        mode INTEGER NOT NULL,
        tag INTEGER NOT NULL,
        kind INTEGER NOT NULL,
        source BLOB NOT NULL,
        target TEXT NOT NULL
    );
    CREATE INDEX layout_package ON layout(package);
    CREATE TABLE assets (
        digest TEXT PRIMARY KEY,
        blake3 TEXT NOT NULL,
        size INTEGER NOT NULL
    )
    """,
    # The mode and owner a blob was stored with, so the blit knows without a stat
    # whether it can link it (NULL for blobs stored before this migration).
    """
    ALTER TABLE assets ADD COLUMN mode INTEGER;
    ALTER TABLE assets ADD COLUMN uid INTEGER;
    ALTER TABLE assets ADD COLUMN gid INTEGER
    """,
    # The blob's mtime (ns) and inode when recorded: a transaction re-hashes a blob
    # only when these changed, before building a state on it (NULL: not yet seen).
    """
    ALTER TABLE assets ADD COLUMN mtime INTEGER;
    ALTER TABLE assets ADD COLUMN inode INTEGER
    """,
]

# digest, blake3, size, mode, uid, gid, mtime (ns), inode
AssetRow = tuple[str, str, int, int, int, int, int, int]
# blake3, size, mtime, inode: what a transaction checks a blob against
AssetRecord = tuple[str, int, int | None, int | None]


def _encode_source(entry: LayoutEntry) -> bytes:
    if isinstance(entry.source, bytes):
        return entry.source
    return entry.source.encode()


def _decode_source(kind: FileKind, source: bytes) -> bytes | str:
    return source if kind == FileKind.REGULAR else source.decode()


class LayoutDB:
    def __init__(self, path: Path, *, writable: bool = True, refuse_blank: bool = False) -> None:
        self.path = path
        self.conn = open_database(path, MIGRATIONS, writable=writable, refuse_blank=refuse_blank)

    def close(self) -> None:
        self.conn.close()

    def has(self, package: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM layout WHERE package = ? LIMIT 1",
                                (package,)).fetchone()
        return row is not None

    def add(self, package: str, entries: Sequence[LayoutEntry]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("DELETE FROM layout WHERE package = ?", (package,))
            self.conn.executemany(
                "INSERT INTO layout VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(package, e.uid, e.gid, e.mode, e.tag, int(e.file_kind), _encode_source(e),
                  e.target) for e in entries],
            )

    def entries(self, package: str) -> list[LayoutEntry]:
        rows = self.conn.execute(
            "SELECT uid, gid, mode, tag, kind, source, target FROM layout WHERE package = ?"
            " ORDER BY rowid", (package,))
        return [
            LayoutEntry(uid, gid, mode, tag, FileKind(kind), _decode_source(FileKind(kind), src),
                        target)
            for uid, gid, mode, tag, kind, src, target in rows
        ]

    def remove(self, packages: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM layout WHERE package = ?",
                                  [(p,) for p in packages])

    def referenced_digests(self) -> set[bytes]:
        kind = int(FileKind.REGULAR)
        return {r[0] for r in self.conn.execute(
            "SELECT DISTINCT source FROM layout WHERE kind = ?", (kind,))}

    def add_assets(self, assets: Iterable[AssetRow]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany(
                "INSERT OR IGNORE INTO assets (digest, blake3, size, mode, uid, gid, mtime,"
                " inode) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", assets)

    def asset_records(self) -> dict[str, AssetRecord]:
        """Each recorded blob's (blake3, size, mtime, inode), by hex digest."""
        return {d: (b3, size, mtime, inode) for d, b3, size, mtime, inode in self.conn.execute(
            "SELECT digest, blake3, size, mtime, inode FROM assets")}

    def refresh_assets(self, seen: Iterable[tuple[str, int, int]]) -> None:
        """Record (digest, mtime, inode) of blobs whose content was found intact."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("UPDATE assets SET mtime = ?, inode = ? WHERE digest = ?",
                                  [(mtime, inode, d) for d, mtime, inode in seen])

    def asset_attributes(self) -> dict[int, tuple[int, int, int]]:
        """Each stored blob's (mode, uid, gid), by digest, where it was recorded."""
        return {int(d, 16): (mode, uid, gid) for d, mode, uid, gid in self.conn.execute(
            "SELECT digest, mode, uid, gid FROM assets WHERE mode IS NOT NULL")}

    def all_assets(self) -> dict[str, str]:
        return {d: b for d, b in self.conn.execute("SELECT digest, blake3 FROM assets")}

    def remove_assets(self, digests: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM assets WHERE digest = ?", [(d,) for d in digests])
