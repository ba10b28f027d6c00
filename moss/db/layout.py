"""The layout database: every package's layout entries.

Real moss's ``layout`` schema, filled as real moss fills it: ``entry_type`` is
text (``regular``, ``symlink``, ``directory``, ...); a regular file's XXH3-128
goes into ``entry_value1`` as a decimal integer and its path into
``entry_value2``; a symlink's link target into ``entry_value1`` and its path
into ``entry_value2``; any other entry's path into ``entry_value1``.

Keeping every entry of every package (not just what a state blitted) is what
lets a state be rebuilt, verified or re-filtered without the ``.stone`` file.
The BLAKE3 of each store blob (XXH3 is not collision-resistant: a second blob
with the same XXH3 key but a different BLAKE3 is store poisoning and is
refused), and its mode, owner, size, mtime and inode, are this moss's own and
live in :mod:`moss.db.extras`; the asset methods here are kept for callers.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from moss.db import REBUILD_HINT, DatabaseError, open_database, rowcheck, schemas
from moss.db.extras import AssetRecord, AssetRow, ExtrasDB
from moss.db.rowcheck import BadValue
from moss.stone import FileKind, LayoutEntry

__all__ = ["AssetRecord", "AssetRow", "LayoutDB", "decode_entry", "encode_entry"]

MIGRATIONS = schemas.LAYOUT

ENTRY_TYPES: dict[FileKind, str] = {
    FileKind.REGULAR: "regular",
    FileKind.SYMLINK: "symlink",
    FileKind.DIRECTORY: "directory",
    FileKind.CHAR_DEVICE: "character-device",
    FileKind.BLOCK_DEVICE: "block-device",
    FileKind.FIFO: "fifo",
    FileKind.SOCKET: "socket",
}
_KINDS = {name: kind for kind, name in ENTRY_TYPES.items()}

# entry_type, entry_value1, entry_value2
Encoded = tuple[str, str, str | None]


def encode_entry(entry: LayoutEntry) -> Encoded:
    """The three columns real moss writes for ``entry`` (its ``encode_file``)."""
    kind = ENTRY_TYPES[entry.file_kind]
    if entry.file_kind is FileKind.REGULAR:
        return kind, str(entry.digest), entry.target
    if entry.file_kind is FileKind.SYMLINK:
        source = entry.source if isinstance(entry.source, str) else entry.source.decode()
        return kind, source, entry.target
    return kind, entry.target, None


def decode_entry(uid: object, gid: object, mode: object, tag: object, entry_type: object,
                 value1: object, value2: object) -> LayoutEntry:
    """A layout row back into an entry; a row real moss could not read, or with a value
    moss cannot use (an owner past 32 bits, a path leaving /usr, a digest that is not
    one), is refused with :class:`~moss.db.rowcheck.BadValue`."""
    kind = _KINDS.get(entry_type) if isinstance(entry_type, str) else None
    if kind is None or value1 is None or (value2 is None and kind in _TWO_VALUES):
        raise BadValue(f"unreadable layout row ({entry_type!r}, {value1!r}, {value2!r})")
    owner = (rowcheck.integer(uid, "uid", 0, rowcheck.ID32_MAX),
             rowcheck.integer(gid, "gid", 0, rowcheck.ID32_MAX),
             rowcheck.integer(mode, "mode", 0, rowcheck.MODE_MAX),
             rowcheck.integer(tag, "tag", 0, rowcheck.ID32_MAX))
    if kind is FileKind.REGULAR:
        digest = rowcheck.digest(value1)
        return LayoutEntry(*owner, kind, digest.to_bytes(16, "big"), rowcheck.path(value2, "path"))
    if kind is FileKind.SYMLINK:
        return LayoutEntry(*owner, kind, rowcheck.link(value1, "symlink target"),
                           rowcheck.path(value2, "path"))
    return LayoutEntry(*owner, kind, "", rowcheck.path(value1, "path"))


_TWO_VALUES = (FileKind.REGULAR, FileKind.SYMLINK)


class LayoutDB:
    def __init__(self, path: Path, extras: ExtrasDB, *, writable: bool = True,
                 refuse_blank: bool = False) -> None:
        self.path = path
        self.extras = extras
        self.conn = open_database(path, MIGRATIONS, writable=writable, refuse_blank=refuse_blank)

    def close(self) -> None:
        self.conn.close()

    def has(self, package: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM layout WHERE package_id = ? LIMIT 1",
                                (package,)).fetchone()
        return row is not None

    def add(self, package: str, entries: Sequence[LayoutEntry]) -> None:
        self.add_packages([(package, entries)])

    def add_packages(self, packages: Sequence[tuple[str, Sequence[LayoutEntry]]]) -> None:
        """Each package's entries, replacing any it had, in one commit: a transaction's
        packages cost one journal flush, not one each."""
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM layout WHERE package_id = ?",
                                  [(package,) for package, _ in packages])
            self.conn.executemany(
                "INSERT INTO layout (package_id, uid, gid, mode, tag, entry_type, entry_value1,"
                " entry_value2) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(package, e.uid, e.gid, e.mode, e.tag, *encode_entry(e))
                 for package, entries in packages for e in entries],
            )

    def entries(self, package: str) -> list[LayoutEntry]:
        rows = self.conn.execute(
            "SELECT uid, gid, mode, tag, entry_type, entry_value1, entry_value2 FROM layout"
            " WHERE package_id = ? ORDER BY id", (package,))
        try:
            return [decode_entry(*row) for row in rows]
        except (ValueError, OverflowError) as exc:
            raise DatabaseError(
                f"database {self.path}: package {package}: {exc}; {REBUILD_HINT}") from exc

    def remove(self, packages: Iterable[str]) -> None:
        with self.conn:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.executemany("DELETE FROM layout WHERE package_id = ?",
                                  [(p,) for p in packages])

    def referenced_digests(self) -> set[int]:
        """Every regular file's XXH3-128 any package's layout names."""
        try:
            return {rowcheck.digest(r[0]) for r in self.conn.execute(
                "SELECT DISTINCT entry_value1 FROM layout WHERE entry_type = 'regular'")}
        except BadValue as exc:
            raise DatabaseError(f"database {self.path}: {exc}; {REBUILD_HINT}") from exc

    def names_blob(self, digest: int) -> bool:
        """Whether any package's layout names this regular file's XXH3-128."""
        return self.conn.execute(
            "SELECT 1 FROM layout WHERE entry_type = 'regular' AND entry_value1 = ? LIMIT 1",
            (str(digest),)).fetchone() is not None

    # The store's blobs: kept in the extras database (see the module docstring).
    def add_assets(self, assets: Iterable[AssetRow]) -> None:
        self.extras.add_assets(assets)

    def asset_records(self) -> dict[str, AssetRecord]:
        """Each recorded blob's (blake3, size, mtime, inode), by hex digest."""
        return self.extras.asset_records()

    def refresh_assets(self, seen: Iterable[tuple[str, int, int]]) -> None:
        """Record (digest, mtime, inode) of blobs whose content was found intact."""
        self.extras.refresh_assets(seen)

    def asset_attributes(self) -> dict[int, tuple[int, int, int]]:
        """Each stored blob's (mode, uid, gid), by digest, where it was recorded."""
        return self.extras.asset_attributes()

    def all_assets(self) -> dict[str, str]:
        return self.extras.all_assets()

    def remove_assets(self, digests: Iterable[str]) -> None:
        self.extras.remove_assets(digests)
