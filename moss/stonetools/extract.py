"""``moss extract``: unpack packages' ``/usr`` trees, every byte verified first.

Each package is unpacked into a private staging directory beside the destination,
with all its paths checked before anything is created and every file's XXH3-128
checked as it streams. Only when every package is complete is the result moved
into ``DEST/usr``, so a bad package leaves the destination untouched.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path, PurePosixPath

from moss.core.errors import MossError
from moss.core.fs import remove_tree
from moss.core.progress import QUIET, Progress
from moss.stone import (
    EMPTY_DIGEST,
    FileKind,
    FileType,
    LayoutEntry,
    PayloadKind,
    StoneError,
    open_stone,
)
from moss.stone.targets import layout_problem

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def check_layout(layout: Sequence[LayoutEntry], where: str) -> None:
    """Refuses a layout whose entries could write outside the tree or clash."""
    problem = layout_problem(layout)
    if problem:
        record, why = problem
        raise StoneError(f"{where}, record {record}: {why}")


def _write_file(path: Path, chunks: Iterable[bytes]) -> None:
    """Creates a new file: never follows or reuses anything already at ``path``."""
    fd = os.open(path, _CREATE, 0o600)
    with os.fdopen(fd, "wb") as f:
        for chunk in chunks:
            f.write(chunk)


def unpack_package(package: Path, usr: Path, progress: Progress = QUIET) -> None:
    """Unpacks one package into ``usr``, which must not exist yet; StoneError if bad."""
    where = str(package)
    with open_stone(package) as reader:
        if reader.file_type is not FileType.BINARY:
            raise StoneError(f"{where}: not a package (file type {reader.file_type.name})")
        for kind in (PayloadKind.META, PayloadKind.LAYOUT):
            if not reader.has_payload(kind):
                raise StoneError(f"{where}: a package needs a {kind.name.title()} payload")
        reader.package_meta()  # a package without a name or version is not one
        where = f"{package}: layout"
        layout = reader.layout()
        check_layout(layout, where)
        indexed = {e.digest for e in reader.index()}
        by_digest: dict[int, list[LayoutEntry]] = {}
        for i, entry in enumerate(layout):
            if entry.file_kind is FileKind.REGULAR:
                if entry.digest not in indexed and entry.digest != EMPTY_DIGEST:
                    raise StoneError(
                        f"{where}, record {i} ({entry.target!r}): digest "
                        f"{entry.digest:032x} is not in the package's index"
                    )
                by_digest.setdefault(entry.digest, []).append(entry)

        usr.mkdir(mode=0o755)
        for entry in layout:
            for parent in reversed(PurePosixPath(entry.target).parents):
                (usr / parent).mkdir(mode=0o755, exist_ok=True)
            if entry.file_kind is FileKind.DIRECTORY:
                (usr / entry.target).mkdir(mode=0o755, exist_ok=True)

        progress.start(f"extract {package.name}", len(by_digest))
        for index_entry, chunks in reader.iter_content():
            targets = by_digest.pop(index_entry.digest, [])
            if not targets:
                continue  # drained (and checked) by the reader
            first = usr / targets[0].target
            _write_file(first, chunks)
            for other in targets[1:]:
                shutil.copyfile(first, usr / other.target, follow_symlinks=False)
            progress.advance()
        # Only the empty file may be missing from the content (checked above).
        for targets in by_digest.values():
            for entry in targets:
                _write_file(usr / entry.target, [])
            progress.advance()
        progress.done()

    directories = []
    for entry in layout:
        path = usr / entry.target
        if entry.file_kind is FileKind.SYMLINK:
            os.symlink(str(entry.source), path)
        elif entry.file_kind is FileKind.REGULAR:
            os.chmod(path, stat.S_IMODE(entry.mode))
        elif entry.file_kind is FileKind.FIFO:
            os.mkfifo(path, stat.S_IMODE(entry.mode))
        elif entry.file_kind is FileKind.DIRECTORY:
            directories.append(entry)
        # Device nodes and sockets are not recreated: they need a live system.
    for entry in sorted(directories, key=lambda e: e.target, reverse=True):
        os.chmod(usr / entry.target, stat.S_IMODE(entry.mode))


def _plan_merge(src: Path, dest: Path, moves: list[tuple[Path, Path]]) -> None:
    """Which staged paths go where; refuses to write through anything in ``dest``."""
    for child in sorted(src.iterdir()):
        target = dest / child.name
        if not os.path.lexists(target):
            moves.append((child, target))
            continue
        target_is_dir = stat.S_ISDIR(target.lstat().st_mode)
        if child.is_dir() and not child.is_symlink():
            if not target_is_dir:
                raise MossError(f"{target} exists and is not a directory")
            _plan_merge(child, target, moves)
        elif target_is_dir:
            raise MossError(f"{target} is a directory; the package has a file there")
        else:
            moves.append((child, target))


def extract_packages(packages: Sequence[Path], dest: Path, progress: Progress = QUIET) -> Path:
    """Unpacks each package's ``/usr`` into ``dest/usr`` (later packages win)."""
    dest = Path(os.path.abspath(dest))
    # Stage on the same file system as the destination so the final moves are renames.
    beside = dest if dest.is_dir() and not dest.is_symlink() else dest.parent
    beside.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".moss-extract-", dir=beside))
    try:
        staged = []
        for n, package in enumerate(packages):
            usr = staging / str(n) / "usr"
            usr.parent.mkdir()
            try:
                unpack_package(Path(package), usr, progress)
            except StoneError as exc:
                raise MossError(str(exc)) from exc
            except OSError as exc:
                raise MossError(f"{package}: extracting: {exc}") from exc
            staged.append(usr)
        usr_dest = dest / "usr"
        if os.path.lexists(usr_dest) and not stat.S_ISDIR(usr_dest.lstat().st_mode):
            raise MossError(f"{usr_dest} exists and is not a directory")
        dest.mkdir(exist_ok=True)
        for usr in staged:
            if not os.path.lexists(usr_dest):
                os.rename(usr, usr_dest)
                continue
            moves: list[tuple[Path, Path]] = []
            _plan_merge(usr, usr_dest, moves)
            for source, target in moves:
                os.replace(source, target)
    finally:
        remove_tree(staging, ignore_errors=True)
    return dest / "usr"

