"""Finding the kernels a state's ``/usr`` tree ships.

Two layouts exist: the current one, one directory per kernel version
(``usr/lib/kernel/<kver>/vmlinuz`` with ``*.initrd``, ``*.cmdline`` and an
optional ``boot.json``), and the flat clr-boot-manager naming older packages
still use (``usr/lib/kernel/<ns>.<variant>.<ver>-<rel>`` and friends).  Both
become the same :class:`Kernel` so nothing after discovery cares which it was.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError

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


def kernel_dir(usr: Path) -> Path:
    return usr / "lib" / "kernel"


def discover(usr: Path) -> list[Kernel]:
    """All kernels in a ``/usr`` tree, newest version first (missing dir: none)."""
    base = kernel_dir(usr)
    if not base.is_dir():
        return []
    found: dict[str, Kernel] = {}
    for child in sorted(base.iterdir()):
        if child.is_dir() and (child / "vmlinuz").is_file():
            kernel = _from_directory(child)
            found[kernel.kver] = kernel
    for child in sorted(base.iterdir()):
        match = _LEGACY.match(child.name)
        if match and child.is_file() and not child.name.startswith(_COMPANIONS):
            kernel = _from_legacy(base, child, match)
            found.setdefault(kernel.kver, kernel)
    return sorted(found.values(), key=lambda k: version_key(k.kver), reverse=True)


def _from_directory(path: Path) -> Kernel:
    meta: dict[str, str] = {}
    info = path / "boot.json"
    if info.is_file():
        try:
            loaded = json.loads(info.read_text())
        except (OSError, ValueError) as exc:
            raise MossError(f"cannot read {info}: {exc}") from None
        if not isinstance(loaded, dict):
            raise MossError(f"{info} is not a JSON object")
        meta = {k: str(v) for k, v in loaded.items() if k in ("name", "version", "variant")}
    return Kernel(
        kver=path.name,
        image=path / "vmlinuz",
        initrds=tuple(sorted(p for p in path.glob("*.initrd") if p.is_file())),
        cmdline_files=tuple(sorted(p for p in path.glob("*.cmdline") if p.is_file())),
        name=meta.get("name", ""),
        version=meta.get("version", ""),
        variant=meta.get("variant", ""),
        config=path / "config" if (path / "config").is_file() else None,
    )


def _from_legacy(base: Path, image: Path, match: re.Match[str]) -> Kernel:
    ns, variant = match["ns"], match["variant"]
    version, release = match["version"], match["release"]
    suffix = f"{version}-{release}.{variant}"
    initrd = base / f"initrd-{ns}.{variant}.{version}-{release}"
    cmdline = base / f"cmdline-{suffix}"
    config = base / f"config-{suffix}"
    return Kernel(
        kver=suffix,
        image=image,
        initrds=(initrd,) if initrd.is_file() else (),
        cmdline_files=(cmdline,) if cmdline.is_file() else (),
        name=ns,
        version=version,
        variant=variant,
        release=release,
        config=config if config.is_file() else None,
    )


def version_key(kver: str) -> list[tuple[int, int | str]]:
    """Sort key comparing digit runs as numbers: 6.10 is newer than 6.9."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.findall(r"\d+|[^\d]+", kver)]
