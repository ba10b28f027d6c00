"""Unified kernel images: the initramfs under the kernel's signature.

A type-1 entry's initrds are loaded by systemd-boot without any check, so with
only the kernel signed, anyone who can write the ESP can replace the initramfs —
and the pivot agent in it — of a Secure Boot machine.  When moss signs
(``secureboot-key``), each kernel build becomes one EFI image: systemd-stub
(``linuxx64.efi.stub`` of the active state), with the kernel, its initrds
concatenated, and a short os-release as sections, and **no** ``.cmdline``
section, so the stub takes the command line from the entry and
``moss.fstx=<state>`` still reaches the agent.  The image is built once per
(stub, kernel, initrds) and signed as a whole; every state's type-1 entry names
it with ``efi``.

Built with ``objcopy`` (binutils) as systemd's documentation shows: Debian 12
ships no ``ukify`` (systemd-ukify first appears in Debian 13).  Each section is
placed after the stub's last one, aligned, as ``ukify`` places them.
"""

from __future__ import annotations

import contextlib
import os
import struct
from collections.abc import Callable
from pathlib import Path

import blake3

from boot.config import BootConfig
from boot.statetree import inroot
from boot.statetree.inroot import warn
from boot.statetree.kernels import Kernel
from boot.writing.filehash import file_digest
from moss.core.errors import MossError
from moss.core.run import run

UKI_NAME = "uki.efi"
_ALIGN = 0x1000


def stub_of(usr: Path, arch: str) -> Path | None:
    """systemd-stub as a state ships it (systemd-boot-efi's ``linux<arch>.efi.stub``)."""
    found = inroot.state_path(usr, f"lib/systemd/boot/efi/linux{arch}.efi.stub")
    return found if found is not None and inroot.is_regular(found) else None


def _align(value: int) -> int:
    return (value + _ALIGN - 1) // _ALIGN * _ALIGN


def image_end(stub: Path) -> int:
    """The first free virtual address after the stub's sections (ImageBase included)."""
    data = stub.read_bytes()[:8192]
    try:
        pe = struct.unpack_from("<I", data, 0x3C)[0]
        if data[:2] != b"MZ" or data[pe:pe + 4] != b"PE\0\0":
            raise MossError(f"{stub} is not a PE image")
        count, optional_size = struct.unpack_from("<H", data, pe + 6)[0], struct.unpack_from(
            "<H", data, pe + 20)[0]
        optional = pe + 24
        magic = struct.unpack_from("<H", data, optional)[0]
        base = (struct.unpack_from("<Q", data, optional + 24)[0] if magic == 0x20B
                else struct.unpack_from("<I", data, optional + 28)[0])
        table = optional + optional_size
        end = 0
        for i in range(count):
            size, address = struct.unpack_from("<II", data, table + 40 * i + 8)
            end = max(end, address + size)
    except struct.error:
        raise MossError(f"{stub} is not a PE image") from None
    return int(base) + _align(end)


def build(stub: Path, kernel: Kernel, osrel: str, cache: Path) -> Path:
    """The unified image of ``kernel``: made once per input, then from ``cache``."""
    parts = [file_digest(stub), file_digest(kernel.image, lasting=True), osrel]
    parts += [file_digest(p, lasting=True) for p in kernel.initrds]
    out = cache / (blake3.blake3(":".join(parts).encode()).hexdigest()[:40] + ".efi")
    if out.is_file():
        return out
    cache.mkdir(parents=True, exist_ok=True, mode=0o700)
    work = cache / f".{out.stem}.parts"
    work.mkdir(exist_ok=True)
    try:
        (work / "osrel").write_text(osrel)
        with (work / "initrd").open("wb") as joined:  # the kernel unpacks them in order
            for initrd in kernel.initrds:
                joined.write(inroot.read_regular(initrd))
        (work / "linux").write_bytes(inroot.read_regular(kernel.image))
        argv: list[str | Path] = ["objcopy"]
        where = image_end(stub)
        for section in ("osrel", "linux", "initrd"):
            argv += ["--add-section", f".{section}={work / section}",
                     "--change-section-vma", f".{section}={where:#x}"]
            where = _align(where + (work / section).stat().st_size)
        run([*argv, stub, work / "image"], name=f"objcopy (unified image of {kernel.kver})",
            missing="objcopy is not installed (binutils): needed for unified kernel images")
        os.replace(work / "image", out)
    finally:
        for leftover in work.iterdir() if work.is_dir() else []:
            leftover.unlink()
        with contextlib.suppress(OSError):
            work.rmdir()
    return out


def maker(root: Path, active_usr: Path, config: BootConfig,
          arch: str | None) -> Callable[[Kernel], Path] | None:
    """How to turn a kernel into its unified image, when moss signs; else None."""
    if config.secureboot_key is None or arch is None:
        return None
    stub = stub_of(active_usr, arch)
    if stub is None:
        warn(f"the active state has no systemd-stub (lib/systemd/boot/efi/linux{arch}.efi.stub):"
             " kernels are signed but their initrds are not covered by any signature")
        return None
    found = stub
    osrel = f'ID={config.os_id}\nNAME="{inroot.printable(config.os_name)}"\n'
    cache = root / ".moss" / "boot" / "uki"
    return lambda kernel: build(found, kernel, osrel, cache)


def prune(cache: Path, used: set[Path]) -> None:
    if cache.is_dir():
        for path in cache.iterdir():
            if path.is_file() and path not in used:
                with contextlib.suppress(OSError):
                    path.unlink()
