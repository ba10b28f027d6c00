"""Finding the kernels a state's ``/usr`` tree ships.

Two layouts exist: the current one, one directory per kernel version
(``usr/lib/kernel/<kver>/vmlinuz`` with ``*.initrd``, ``*.cmdline`` and an
optional ``boot.json``), and the flat clr-boot-manager naming older packages
still use (``usr/lib/kernel/<ns>.<variant>.<ver>-<rel>`` and friends).  Both
become the same :class:`Kernel` so nothing after discovery cares which it was.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from boot.statetree import inroot
from moss.core.errors import MossError

MAX_BOOT_JSON = 64 * 1024  # a kernel's boot.json names it in three short fields

# <ns>.<variant>.<version>-<release>; namespace and variant start with a letter,
# the version with a digit, which is what keeps the dotted parts apart.
_LEGACY = re.compile(
    r"^(?P<ns>[A-Za-z][\w-]*(?:\.[A-Za-z][\w-]*)*)\.(?P<variant>[A-Za-z][\w-]*)"
    r"\.(?P<version>\d[\w.]*)-(?P<release>\d+)$"
)
# Files beside a legacy kernel whose names would otherwise parse as kernels.
_COMPANIONS = ("initrd-", "cmdline-", "config-", "System.map-", "default-")


@dataclass(frozen=True)
class Kernel:
    """One bootable kernel of one state, with everything that boots beside it."""

    kver: str
    image: Path
    initrds: tuple[Path, ...] = ()
    cmdline_files: tuple[Path, ...] = ()
    name: str = ""
    version: str = ""
    variant: str = ""
    release: str = ""
    config: Path | None = None
    # The initrds' names in the kernel folder; a resolved link's source may differ.
    initrd_names: tuple[str, ...] = ()

    def named_initrds(self) -> list[tuple[str, Path]]:
        """``(name on $BOOT, source)`` for each initrd, in boot order."""
        names = self.initrd_names or tuple(p.name for p in self.initrds)
        return list(zip(names, self.initrds, strict=True))


def kernel_dir(usr: Path) -> Path:
    return usr / "lib" / "kernel"


class Refused(Exception):
    """A kernel whose files are not regular files of its state: it gets no entry."""


def discover(usr: Path, warn: Callable[[str], None] = inroot.warn) -> list[Kernel]:
    """All kernels in a ``/usr`` tree, newest version first (missing dir: none).

    Every path is resolved inside the state (:mod:`boot.statetree.inroot`); a kernel with
    a file that is not a regular file of the state, or a version that cannot
    name a file, is skipped with a warning naming it.
    """
    base = inroot.state_path(usr, "lib/kernel")
    if base is None or not base.is_dir():
        return []
    names = sorted(os.listdir(base))
    found: dict[str, Kernel] = {}
    for pick in (_from_directory, _from_legacy):
        for name in names:
            try:
                kernel = pick(usr, base, name)
            except Refused as exc:
                warn(f"kernel {name!r} of {usr} skipped: {exc}")
                continue
            if kernel is not None:
                found.setdefault(kernel.kver, kernel)
    return sorted(found.values(), key=lambda k: version_key(k.kver), reverse=True)


def _state_file(usr: Path, folder: Path, name: str) -> Path | None:
    """``folder/name`` as a regular file of the state; None if there is no such name."""
    if not os.path.lexists(folder / name):
        return None
    found = inroot.state_path(usr, f"{inroot.state_rel(usr, folder)}/{name}")
    if found is None or not inroot.is_regular(found):
        raise Refused(f"{name} is not a regular file inside the state")
    return found


def _entry(usr: Path, base: Path, name: str) -> Path | None:
    """A name in the kernel folder, resolved inside the state."""
    found = inroot.state_path(usr, f"{inroot.state_rel(usr, base)}/{name}")
    if found is None and os.path.islink(base / name):
        raise Refused("it is a symlink that leads out of the state")
    return found


def _check_kver(kver: str) -> str:
    if not inroot.valid_kver(kver):
        raise Refused("its version is not made of letters, digits and . _ + ~ -")
    return kver


def _from_directory(usr: Path, base: Path, name: str) -> Kernel | None:
    path = _entry(usr, base, name)
    if path is None or not path.is_dir() or not os.path.lexists(path / "vmlinuz"):
        return None
    kver = _check_kver(name)
    image = _state_file(usr, path, "vmlinuz")
    assert image is not None
    meta: dict[str, str] = {}
    info = _state_file(usr, path, "boot.json")
    if info is not None:
        meta = _boot_json(info)
    children = sorted(os.listdir(path))
    initrds = [c for c in children if c.endswith(".initrd")]
    return Kernel(
        kver=kver,
        image=image,
        initrds=tuple(_files(usr, path, initrds)),
        initrd_names=tuple(initrds),
        cmdline_files=tuple(_files(usr, path, [c for c in children if c.endswith(".cmdline")])),
        name=meta.get("name", ""),
        version=meta.get("version", ""),
        variant=meta.get("variant", ""),
        config=_state_file(usr, path, "config"),
    )


def _files(usr: Path, folder: Path, names: list[str]) -> list[Path]:
    return [p for p in (_state_file(usr, folder, n) for n in names) if p is not None]


def _boot_json(info: Path) -> dict[str, str]:
    try:  # json recurses once per level, and str() of a 5000-digit number raises
        loaded = json.loads(inroot.read_regular(info, MAX_BOOT_JSON))
        if not isinstance(loaded, dict):
            raise MossError(f"{info} is not a JSON object")
        meta = {k: str(v) for k, v in loaded.items() if k in ("name", "version", "variant")}
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)[:200]
        raise MossError(f"cannot read {info}: {reason}") from None
    for key, value in meta.items():
        if value and not inroot.valid_kver(value):
            raise Refused(f"{info.name} has a {key} that cannot name a file")
    return meta


def _from_legacy(usr: Path, base: Path, name: str) -> Kernel | None:
    match = _LEGACY.match(name)
    if not match or name.startswith(_COMPANIONS):
        return None
    image = _entry(usr, base, name)
    if image is None or image.is_dir():
        return None
    if not inroot.is_regular(image):
        raise Refused("it is not a regular file")
    ns, variant = match["ns"], match["variant"]
    version, release = match["version"], match["release"]
    suffix = _check_kver(f"{version}-{release}.{variant}")
    initrd = _state_file(usr, base, f"initrd-{ns}.{variant}.{version}-{release}")
    cmdline = _state_file(usr, base, f"cmdline-{suffix}")
    return Kernel(
        kver=suffix,
        image=image,
        initrds=(initrd,) if initrd else (),
        initrd_names=(f"initrd-{ns}.{variant}.{version}-{release}",) if initrd else (),
        cmdline_files=(cmdline,) if cmdline else (),
        name=_check_kver(ns),
        version=version,
        variant=variant,
        release=release,
        config=_state_file(usr, base, f"config-{suffix}"),
    )


def version_key(kver: str) -> list[tuple[int, int | str]]:
    """Sort key comparing digit runs as numbers: 6.10 is newer than 6.9."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|[^\d]+", kver)]
