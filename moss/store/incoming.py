"""Reading the packages a transaction brings in, before anything is written.

Everything a package says about itself is read and checked here — file type,
meta, layout targets, that every file the layout names is in its content — so
a bad package is refused while the system is still untouched.

Special files: a FIFO is created by the blit like any other entry (its mode is
all it needs).  Character and block devices and sockets are refused here: a
layout record carries no device number, a socket is only meaningful to the
process that bound it, and ``/usr`` is no place for either — real packages never
ship them (devtmpfs and udev make device nodes at boot).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError
from moss.core.hashing import sha256_file
from moss.core.root import STATE_ID_FILE, Root
from moss.stone import FileKind, FileType, LayoutEntry, PackageMeta, StoneError, open_stone
from moss.stone.delta import Delta, read_delta
from moss.stone.targets import shown, target_problem, unindexed_file

#: Kinds of layout entry that moss refuses to install.
REFUSED_KINDS = (FileKind.CHAR_DEVICE, FileKind.BLOCK_DEVICE, FileKind.SOCKET)


@dataclass
class IncomingPackage:
    """A package file that a transaction adds, with what was read from it.

    A package coming as a delta stone (:mod:`moss.stone.delta`) has ``path`` the
    delta, ``delta`` its recipe, and ``fallback``: what fetches and reads the full
    package when the delta does not apply.
    """

    id: str  # sha256 of the .stone file: unique per build, and the cache key
    path: Path
    meta: PackageMeta
    layout: list[LayoutEntry]
    delta: Delta | None = None
    fallback: Callable[[], IncomingPackage] | None = None


def check_target(target: str, package: str) -> str:
    """The format's rules for a target (:mod:`moss.stone.targets`), and moss's own name."""
    problem = target_problem(target)
    if problem is None and (target == STATE_ID_FILE or target.startswith(STATE_ID_FILE + "/")):
        problem = "is moss's own state id file or under it"
    if problem:
        raise MossError(f"package {package}: layout target {shown(target)} {problem}; refused")
    return target


def check_meta(meta: PackageMeta, path: Path) -> PackageMeta:
    """A package's name and version reach state summaries, boot entry titles and
    file names: no whitespace or control character may hide a line in them."""
    for field_name, value in (("name", meta.name), ("version", meta.version)):
        if not value:
            raise MossError(f"{path}: package {field_name} is empty; refused")
        bad = next((c for c in value if c.isspace() or not c.isprintable()), None)
        if bad is not None:
            kind = "whitespace" if bad.isspace() and bad.isprintable() else "a control character"
            raise MossError(f"{path}: package {field_name} {value!r} contains {kind}; refused")
    return meta


def check_kind(entry: LayoutEntry, package: str) -> None:
    """Device nodes and sockets are refused (see the module docstring)."""
    if entry.file_kind in REFUSED_KINDS:
        kind = entry.file_kind.name.lower().replace("_", " ")
        raise MossError(
            f"package {package}: layout target {shown(entry.target)} is a {kind}; moss "
            f"installs no device nodes or sockets (make them at boot instead); refused"
        )


def read_package(path: Path) -> IncomingPackage:
    """Read and check a local ``.stone``; raises MossError naming the file."""
    try:
        package_id = sha256_file(path)
        with open_stone(path) as reader:
            if reader.file_type != FileType.BINARY:
                raise MossError(f"{path}: not a package (file type {reader.file_type.name})")
            meta = check_meta(reader.package_meta(), path)
            layout = reader.layout()
            stored = {entry.digest for entry in reader.index()}
    except OSError as exc:
        raise MossError(f"{path}: {exc.strerror}") from exc
    for entry in layout:
        check_target(entry.target, f"{meta.name} ({path})")
        check_kind(entry, f"{meta.name} ({path})")
    missing = unindexed_file(layout, stored)
    if missing:
        record, why = missing
        raise MossError(f"{path}: layout, record {record}: {why}")
    return IncomingPackage(package_id, path, meta, layout)


def read_delta_package(path: Path, package_id: str, offered: PackageMeta,
                       fallback: Callable[[], IncomingPackage]) -> IncomingPackage:
    """Read a downloaded delta for package ``package_id``, as the index offered it.

    Its meta and layout are checked as a package's are, and it must name the
    package the index does (id, name, version, release); a bad one is a MossError.
    """
    try:
        delta = read_delta(path)
    except (StoneError, OSError) as exc:
        raise MossError(f"{path}: {exc}") from None
    meta = check_meta(delta.meta, path)
    same = (meta.name, meta.version, meta.release) == (
        offered.name, offered.version, offered.release)
    if delta.target_id != package_id or not same:
        raise MossError(f"{path}: the delta is not for {offered.name} {package_id[:12]}")
    for entry in delta.layout:
        check_target(entry.target, f"{meta.name} ({path})")
        check_kind(entry, f"{meta.name} ({path})")
    return IncomingPackage(package_id, path, meta, delta.layout, delta, fallback)


def copy_to_cache(root: Root, package: IncomingPackage) -> Path | None:
    """A copy of the ``.stone`` beside its cache name, so states can be verified and
    repaired offline; None when it is cached already.

    The copy is a ``.part`` until :func:`keep_cached` names it, which the caller
    does once a ``syncfs`` has made it durable: a cached name always has its bytes.
    """
    dest = root.cached_package(package.id)
    if dest.exists():
        return None
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    shutil.copyfile(package.path, part)
    return part


def keep_cached(part: Path) -> None:
    """Name a durable copy made by :func:`copy_to_cache`."""
    os.replace(part, part.with_name(part.name.removesuffix(".part")))
