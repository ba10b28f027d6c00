"""The rules every layout target obeys, in one place.

A target names one path below ``/usr``, one way: relative, without NUL, ``..``,
``.`` or empty components.  Within one layout, no path may be written through
another entry that is a symlink or not a directory, and no path may appear twice.
The reader applies :func:`target_problem` to every record; extracting a package
applies :func:`layout_problem` to the whole layout; a transaction adds moss's own
reserved name (``usr/.stateID``) on top (:func:`moss.store.incoming.check_target`).
Both extracting and a transaction apply :func:`unindexed_file`: every regular
file of the layout has its content in the package.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
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


def target_problem(target: str) -> str | None:
    """What makes ``target`` unacceptable, as words to follow it, or None."""
    if not target:
        return "is empty"
    if "\0" in target:
        return "contains a NUL byte"
    if target.startswith("/"):
        return "is absolute"
    parts = target.split("/")
    if ".." in parts:
        return "contains '..'"
    if "." in parts or "" in parts:
        return "has an empty or '.' component"
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
