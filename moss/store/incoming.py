"""Reading the packages a transaction brings in, before anything is written.

Everything a package says about itself is read and checked here — file type,
meta, layout targets, that every file the layout names is in its content — so
a bad package is refused while the system is still untouched.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError
from moss.core.hashing import sha256_file
from moss.core.root import STATE_ID_FILE, Root
from moss.stone import (
    EMPTY_DIGEST,
    FileKind,
    FileType,
    LayoutEntry,
    PackageMeta,
    open_stone,
)
from moss.stone.targets import target_problem


@dataclass
class IncomingPackage:
    """A package file that a transaction adds, with what was read from it."""

    id: str  # sha256 of the .stone file: unique per build, and the cache key
    path: Path
    meta: PackageMeta
    layout: list[LayoutEntry]


def check_target(target: str, package: str) -> str:
    """The format's rules for a target (:mod:`moss.stone.targets`), and moss's own name."""
    problem = target_problem(target)
    if problem is None and target == STATE_ID_FILE:
        problem = "moss's own state id file"
    if problem:
        raise MossError(f"package {package}: layout target {target!r} {problem}; refused")
    return target


def read_package(path: Path) -> IncomingPackage:
    """Read and check a local ``.stone``; raises MossError naming the file."""
    try:
        package_id = sha256_file(path)
        with open_stone(path) as reader:
            if reader.file_type != FileType.BINARY:
                raise MossError(f"{path}: not a package (file type {reader.file_type.name})")
            meta = reader.package_meta()
            layout = reader.layout()
            stored = {entry.digest for entry in reader.index()}
    except OSError as exc:
        raise MossError(f"{path}: {exc.strerror}") from exc
    for entry in layout:
        check_target(entry.target, f"{meta.name} ({path})")
        if (entry.file_kind == FileKind.REGULAR and entry.digest != EMPTY_DIGEST
                and entry.digest not in stored):
            raise MossError(
                f"{path}: layout entry {entry.target!r} names content "
                f"{entry.digest:032x} that the package does not contain"
            )
    return IncomingPackage(package_id, path, meta, layout)


def cache_package(root: Root, package: IncomingPackage) -> Path:
    """Keep a copy of the ``.stone`` so states can be verified and repaired offline."""
    dest = root.cached_package(package.id)
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    shutil.copyfile(package.path, part)
    with open(part, "rb") as f:
        os.fsync(f.fileno())
    os.replace(part, dest)
    return dest
