"""``moss pack``: a directory tree taken as ``/usr`` becomes a .stone package."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from moss.core import fs
from moss.core.errors import MossError
from moss.core.progress import QUIET, Progress
from moss.stone import (
    FileKind,
    LayoutEntry,
    PackageMeta,
    digest_bytes,
    write_stone,
    xxh3_128,
)

_KINDS = {
    stat.S_IFCHR: FileKind.CHAR_DEVICE,
    stat.S_IFBLK: FileKind.BLOCK_DEVICE,
    stat.S_IFIFO: FileKind.FIFO,
    stat.S_IFSOCK: FileKind.SOCKET,
}
DEFAULT_DIR_MODE = 0o755


def _layout_entry(path: Path, target: str, contents: dict[int, Path]) -> LayoutEntry | None:
    st = path.lstat()
    fmt = stat.S_IFMT(st.st_mode)
    if fmt == stat.S_IFREG:
        digest = xxh3_128(path)
        contents.setdefault(digest, path)
        return LayoutEntry(0, 0, st.st_mode, 0, FileKind.REGULAR, digest_bytes(digest), target)
    if fmt == stat.S_IFLNK:
        return LayoutEntry(0, 0, st.st_mode, 0, FileKind.SYMLINK, os.readlink(path), target)
    if fmt == stat.S_IFDIR:
        # Real moss writes no directory records: parents are created 0755. An empty
        # directory, or one with another mode, would be lost without a record.
        if any(path.iterdir()) and stat.S_IMODE(st.st_mode) == DEFAULT_DIR_MODE:
            return None
        return LayoutEntry(0, 0, st.st_mode, 0, FileKind.DIRECTORY, "", target)
    return LayoutEntry(0, 0, st.st_mode, 0, _KINDS[fmt], "", target)


def _tree_paths(tree: Path) -> list[tuple[Path, str]]:
    """Every path under ``tree`` with its target, listed before any is read."""
    paths = []
    for dirpath, dirnames, filenames in fs.walk(tree):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(dirnames + filenames):
            path = base / name
            target = path.relative_to(tree).as_posix()
            try:
                target.encode("utf-8")
            except UnicodeEncodeError:
                raise MossError(f"{path}: file name is not UTF-8") from None
            paths.append((path, target))
    return paths


def collect_layout(tree: Path, progress: Progress = QUIET
                   ) -> tuple[list[LayoutEntry], dict[int, Path]]:
    """The layout of ``tree`` (sorted by path) and the file holding each unique digest.

    The tree is listed first so the hashing of its files can show progress.
    """
    layout: list[LayoutEntry] = []
    contents: dict[int, Path] = {}
    paths = _tree_paths(tree)
    progress.start("Hashing", len(paths), "files")
    try:
        for path, target in paths:
            entry = _layout_entry(path, target, contents)
            if entry is not None:
                layout.append(entry)
            progress.advance()
    finally:
        progress.done()
    layout.sort(key=lambda e: e.target)
    return layout, contents


def pack_tree(tree: Path, meta: PackageMeta, out: Path, level: int = 3,
              progress: Progress = QUIET) -> Path:
    """Writes ``out`` from ``tree`` (``tree/bin/foo`` becomes ``/usr/bin/foo``).

    Modes, symlinks, empty files and empty directories are kept; identical files
    are stored once. Owners are written as root, as real packages have them.
    """
    tree, out = Path(tree), Path(out)
    if not tree.is_dir():
        raise MossError(f"{tree}: not a directory")
    if not out.parent.is_dir():
        raise MossError(f"{out.parent}: output directory does not exist")
    try:
        layout, contents = collect_layout(tree, progress)
        progress.start("Compressing", len(contents), "files")
        try:
            write_stone(out, meta, layout, contents, level=level, on_file=progress.advance)
        finally:
            progress.done()
    except OSError as exc:
        raise MossError(f"packing {tree}: {exc}") from exc
    return out
