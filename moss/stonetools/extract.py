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
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path, PurePosixPath

from moss.core.errors import MossError, printable
from moss.core.fs import remove_tree
from moss.core.progress import QUIET, Progress
from moss.stone import (
    FileKind,
    FileType,
    LayoutEntry,
    PackageMeta,
    PayloadKind,
    StoneError,
    StoneReader,
    open_stone,
)
from moss.stone.targets import layout_problem, unindexed_file

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
    with open_stone(package) as reader:
        layout = read_checked_layout(reader, package)
        usr.mkdir(mode=0o755)
        make_directories(usr, layout)
        write_files(reader, usr, layout, f"extract {package.name}", progress)
    finish_entries(usr, layout)


def read_checked_layout(reader: StoneReader, package: Path) -> list[LayoutEntry]:
    """The layout of a package, refused before anything is written if it is not sound."""
    where = str(package)
    if reader.file_type is not FileType.BINARY:
        raise StoneError(f"{where}: not a package (file type {reader.file_type.name})")
    for kind in (PayloadKind.META, PayloadKind.LAYOUT):
        if not reader.has_payload(kind):
            raise StoneError(f"{where}: a package needs a {kind.name.title()} payload")
    reader.package_meta()  # a package without a name or version is not one
    where = f"{package}: layout"
    layout = reader.layout()
    check_layout(layout, where)
    missing = unindexed_file(layout, {e.digest for e in reader.index()})
    if missing:
        record, why = missing
        raise StoneError(f"{where}, record {record}: {why}")
    return layout


def make_directories(usr: Path, layout: Sequence[LayoutEntry]) -> None:
    """Every directory the layout names or implies, one level at a time (never recursive)."""
    for entry in layout:
        for parent in reversed(PurePosixPath(entry.target).parents):
            (usr / parent).mkdir(mode=0o755, exist_ok=True)
        if entry.file_kind is FileKind.DIRECTORY:
            (usr / entry.target).mkdir(mode=0o755, exist_ok=True)


def write_files(reader: StoneReader, usr: Path, layout: Sequence[LayoutEntry], label: str,
                progress: Progress) -> None:
    """Stream the content once: each blob to its first path, copied to the others."""
    by_digest: dict[int, list[LayoutEntry]] = {}
    for entry in layout:
        if entry.file_kind is FileKind.REGULAR:
            by_digest.setdefault(entry.digest, []).append(entry)
    progress.start(label, len(by_digest), "files")
    for index_entry, chunks in reader.iter_content():
        targets = by_digest.pop(index_entry.digest, [])
        if not targets:
            continue  # drained (and checked) by the reader
        first = usr / targets[0].target
        _write_file(first, chunks)
        for other in targets[1:]:
            shutil.copyfile(first, usr / other.target, follow_symlinks=False)
        progress.advance()
    # Only the empty file may be missing from the content (read_checked_layout).
    for targets in by_digest.values():
        for entry in targets:
            _write_file(usr / entry.target, [])
        progress.advance()
    progress.done()


def finish_entries(usr: Path, layout: Sequence[LayoutEntry]) -> None:
    """Symlinks, FIFOs and modes, once every file is written; directories deepest first."""
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
        staged = stage_packages(packages, staging, progress)
        move_into(staged, dest / "usr")
    finally:
        try:
            remove_tree(staging)
        except OSError as exc:
            raise MossError(f"could not remove the staging {staging}: {exc}") from exc
    return dest / "usr"


def stage_packages(packages: Sequence[Path], staging: Path, progress: Progress) -> list[Path]:
    """Unpack each package into its own ``staging/<n>/usr``; any fault is a MossError."""
    staged = []
    for n, package in enumerate(packages):
        usr = staging / str(n) / "usr"
        usr.parent.mkdir()
        try:
            unpack_package(Path(package), usr, progress)
        except StoneError as exc:  # extract_packages promises a MossError for a bad package
            raise MossError(str(exc)) from exc
        except OSError as exc:
            raise MossError(f"{package}: extracting: {exc}") from exc
        staged.append(usr)
    return staged


def move_into(staged: Sequence[Path], usr_dest: Path) -> None:
    """Rename the staged trees into ``usr_dest``, merging into what is already there."""
    if os.path.lexists(usr_dest) and not stat.S_ISDIR(usr_dest.lstat().st_mode):
        raise MossError(f"{usr_dest} exists and is not a directory")
    usr_dest.parent.mkdir(exist_ok=True)
    for usr in staged:
        if not os.path.lexists(usr_dest):
            os.rename(usr, usr_dest)
            continue
        moves: list[tuple[Path, Path]] = []
        _plan_merge(usr, usr_dest, moves)
        for source, target in moves:
            os.replace(source, target)


def extract_folder(meta: PackageMeta, package: Path) -> str:
    """Real moss's folder for a package (its ``package::Meta::id``): name, version,
    source release and architecture, ``hello-1.0-1.x86_64``; the build release is not
    part of it.  A name that would leave ``-o``'s folder is refused."""
    name = f"{meta.name}-{meta.version}-{meta.release}.{meta.architecture}"
    if "/" in name or "\0" in name or name.startswith("."):
        raise MossError(f"{package}: the package's name and version "
                        f"({printable(name)}) cannot name a folder")
    return name


def extract_each(packages: Sequence[Path], out: Path,
                 progress: Progress = QUIET) -> Iterator[tuple[Path, Path]]:
    """Real moss's ``extract -o``: each package into its own ``out/<id>/usr``, an old
    tree of that id replaced; yields (package, tree) as each is done."""
    for package in packages:
        with open_stone(package) as reader:
            tree = out / extract_folder(reader.package_meta(), package)
        if tree.is_dir():
            shutil.rmtree(tree)
        extract_packages([package], tree, progress)
        yield package, tree
