"""The rules every layout target obeys, in one place.

A target names one path below ``/usr``, one way: relative, without NUL, ``..``,
``.`` or empty components.  Within one layout, no path may be written through
another entry that is a symlink or not a directory, and no path may appear twice.
The reader applies :func:`target_problem` to every record; extracting a package
applies :func:`layout_problem` to the whole layout; a transaction adds moss's own
reserved name (``usr/.stateID``) on top (:func:`moss.store.incoming.check_target`).
Both extracting and a transaction apply :func:`unindexed_file`: every regular
file of the layout has its content in the package.

Every target also fits the limits below, checked as the layout is read, so a
hostile package fails with one clear line instead of ``ENAMETOOLONG`` halfway
through a blit, or a tree so deep that walking or removing it is a hazard.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from pathlib import PurePosixPath
from typing import Protocol

from moss.stone.digest import EMPTY_DIGEST
from moss.stone.enums import FileKind


class Entry(Protocol):
    """What the rules read of a layout record (:class:`moss.stone.LayoutEntry`)."""

    @property
    def target(self) -> str: ...
    @property
    def source(self) -> bytes | str: ...
    @property
    def file_kind(self) -> FileKind: ...


class FileEntry(Entry, Protocol):
    """A layout record with its digest (the ``source`` of a regular file, as a number)."""

    @property
    def digest(self) -> int: ...


#: Longest path component in bytes: NAME_MAX of every Linux file system.
NAME_MAX = 255
#: Longest target in bytes. The longest path moss opens by name is
#: ``ROOT/.moss/root/<id>/usr/<target>``; this leaves 1 KiB of PATH_MAX (4096) for it.
MAX_TARGET_BYTES = 3072
#: Most components in one target. The deepest paths of real distributions stay
#: below 40; 128 is far beyond that and keeps every walk over a tree cheap.
MAX_DEPTH = 128
#: Distinct directories one layout may imply, and their path bytes in all. Each
#: becomes a string and a dict entry when a tree is planned, so without these a
#: 16 MiB layout of deep, distinct paths could imply gigabytes of directory names.
#: Real packages imply a few thousand directories at most.
MAX_LAYOUT_DIRECTORIES = 1 << 16
MAX_LAYOUT_DIRECTORY_BYTES = 8 << 20


def shown(target: str) -> str:
    """``target`` quoted for an error line, cut short when it is long (hostile ones are)."""
    return repr(target) if len(target) <= 120 else repr(target[:100]) + f"... ({len(target)} chars)"


def target_problem(target: str) -> str | None:
    """What makes ``target`` unacceptable, as words to follow it, or None.

    Every target of every package is checked here (and again when a tree is
    planned), so the common case is answered by a few substring tests: a short
    ASCII path (at most :data:`NAME_MAX` bytes in all, so no component is longer)
    with no empty component and no component starting with a dot.
    """
    if (0 < len(target) <= NAME_MAX and target.isascii() and "\0" not in target
            and target[0] not in "./" and target[-1] != "/" and "//" not in target
            and "/." not in target and target.count("/") < MAX_DEPTH):
        return None
    if not target:
        return "is empty"
    if "\0" in target:
        return "contains a NUL byte"
    if target.startswith("/"):
        return "is absolute"
    size = len(target.encode("utf-8", "surrogatepass"))
    if size > MAX_TARGET_BYTES:
        return f"is {size} bytes long, over the limit of {MAX_TARGET_BYTES}"
    if target.count("/") >= MAX_DEPTH:
        return f"is {target.count('/') + 1} components deep, over the limit of {MAX_DEPTH}"
    parts = target.split("/")
    for part in parts:
        if len(part.encode("utf-8", "surrogatepass")) > NAME_MAX:
            return f"has a component over {NAME_MAX} bytes ({part[:32]!r}...)"
    if ".." in parts:
        return "contains '..'"
    if "." in parts or "" in parts:
        return "has an empty or '.' component"
    return None


def directories_problem(targets: Iterable[str]) -> str | None:
    """Why the directories ``targets`` imply are too many, or None.

    Each target's parents are climbed only until one already seen, so the work
    is linear in the distinct directories; they are remembered by hash, which
    can only make the count come out low, never refuse a layout wrongly.
    """
    seen: set[int] = set()
    size = 0
    for target in targets:
        parent = target
        while "/" in parent:
            parent = parent[: parent.rindex("/")]
            key = hash(parent)
            if key in seen:
                break
            seen.add(key)
            size += len(parent) + 1
            if len(seen) > MAX_LAYOUT_DIRECTORIES:
                return f"implies more than {MAX_LAYOUT_DIRECTORIES} directories"
            if size > MAX_LAYOUT_DIRECTORY_BYTES:
                return (f"implies directories whose paths add up to more than "
                        f"{MAX_LAYOUT_DIRECTORY_BYTES} bytes")
    return None


def layout_problem(layout: Sequence[Entry]) -> tuple[int, str] | None:
    """The first record of ``layout`` that clashes with another, and why, or None.

    A path is refused when one of its parents is a symlink or a non-directory of
    the same layout (``lib -> /etc`` then ``lib/passwd``), whatever the order, and
    when two entries name the same path.
    """
    kinds: dict[str, tuple[int, Entry]] = {}
    for i, entry in enumerate(layout):
        if entry.target in kinds:
            return i, f"{entry.target!r} appears twice in the layout"
        kinds[entry.target] = (i, entry)
    for i, entry in enumerate(layout):
        for parent in PurePosixPath(entry.target).parents:
            key = parent.as_posix()
            if key == "." or key not in kinds:
                continue
            j, other = kinds[key]
            if other.file_kind is FileKind.SYMLINK:
                return i, (f"{entry.target!r} would be written through the "
                           f"symlink {key!r} -> {other.source!r} (record {j})")
            if other.file_kind is not FileKind.DIRECTORY:
                return i, f"parent {key!r} of {entry.target!r} is not a directory (record {j})"
    return None


def unindexed_file(layout: Sequence[FileEntry], indexed: Collection[int]) -> tuple[int, str] | None:
    """The first regular file whose content the package does not carry, and why, or None.

    ``indexed`` holds the digests of the package's index.  The empty file is the
    exception: a writer may leave zero bytes of content out of the index.
    """
    for i, entry in enumerate(layout):
        if entry.file_kind is not FileKind.REGULAR:
            continue
        if entry.digest != EMPTY_DIGEST and entry.digest not in indexed:
            return i, (f"{entry.target!r}: digest {entry.digest:032x} "
                       "is not in the package's index")
    return None
