"""Which ESP and XBOOTLDR partitions are the boot loader's, on a live system.

A machine may hold several ESPs (a second disk, a USB stick, another OS's
disk).  The one that counts is the one the firmware started systemd-boot from:
systemd-boot names it in the ``LoaderDevicePartUUID`` EFI variable.  Without
that variable (another boot loader, first install), an ESP on the disk that
holds the root is taken, and only then any ESP.  XBOOTLDR is looked for on the
ESP's disk, as systemd-boot does: one on another disk is never read by it.
Kernels and entries go to XBOOTLDR when there is one, loader settings and the
boot loader to the ESP (:attr:`BootConfig.boot_dir`).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from boot.discovery import efivars
from boot.topology import probe, rootstack
from moss.core.errors import MossError
from moss.core.run import CommandError, run

ESP_TYPE = probe.ESP_TYPE
XBOOTLDR_TYPE = probe.XBOOTLDR_TYPE


@dataclass(frozen=True)
class Partition:
    path: str  # /dev/nvme0n1p1
    disk: str  # the kernel name of the disk holding it ("nvme0n1"), "" if none
    parttype: str  # GPT type GUID, lower case
    partuuid: str  # lower case
    mountpoint: str | None


def partitions() -> list[Partition]:
    """Every partition ``lsblk`` knows, with its disk, type, PARTUUID and mount point."""
    try:
        out = run(["lsblk", "-J", "-o", "PATH,PKNAME,PARTTYPE,PARTUUID,MOUNTPOINT"])
    except CommandError:
        return []
    return parse_lsblk(out.stdout)


def parse_lsblk(text: str) -> list[Partition]:
    found: list[Partition] = []
    pending = list(json.loads(text).get("blockdevices", []))
    while pending:
        dev = pending.pop(0)
        pending.extend(dev.get("children") or [])

        def text_of(key: str, dev: dict[str, object] = dev) -> str:
            value = dev.get(key)
            return value.lower() if isinstance(value, str) else ""

        mountpoint = dev.get("mountpoint")
        found.append(Partition(
            str(dev.get("path") or ""), str(dev.get("pkname") or ""),
            text_of("parttype"), text_of("partuuid"),
            mountpoint if isinstance(mountpoint, str) and mountpoint else None,
        ))
    return found


def choose(
    parts: Sequence[Partition], loader_partuuid: str | None, root_disks: set[str]
) -> tuple[Partition | None, Partition | None]:
    """(ESP, XBOOTLDR): the firmware's ESP, else one on the root's disk, else any;
    XBOOTLDR on the ESP's disk (on the root's when there is no ESP)."""
    esps = [p for p in parts if p.parttype == ESP_TYPE]
    wanted = (loader_partuuid or "").lower()
    esp = next((p for p in parts if wanted and p.partuuid == wanted), None)
    esp = esp or next((p for p in esps if p.disk in root_disks), None)
    esp = esp or next(iter(esps), None)
    disks = {esp.disk} if esp is not None else root_disks
    xbootldr = next((p for p in parts if p.parttype == XBOOTLDR_TYPE and p.disk in disks), None)
    return esp, xbootldr


def disk_of(sysfs: Path, name: str) -> str:
    """The disk a partition is on (sysfs nests a partition in its disk), else itself."""
    node = sysfs / "class" / "block" / name
    if (node / "partition").exists():
        return Path(os.path.realpath(node)).parent.name
    return name


def root_disks(sysfs: Path = Path("/sys")) -> set[str]:
    """The disks under the live root, through LUKS and LVM; empty if it cannot tell."""
    mount = probe.mount_of(Path("/"), probe.mounts())
    if mount is None:
        return set()
    try:
        stack = rootstack.describe(mount, sysfs)
    except rootstack.UnknownStack:
        return set()
    return {disk_of(sysfs, leaf) for leaf in stack.leaves}


def find(efivars_dir: Path | None) -> tuple[Path | None, Path | None, str | None]:
    """(mounted ESP, mounted XBOOTLDR, the ESP's device when it is mounted nowhere).

    Automount points are triggered first, so an automounted ESP counts as mounted;
    when ``lsblk`` knows no partition types, the usual vfat mounts are taken.
    """
    probe.trigger_automounts(probe.mounts())
    loader = None
    if efivars_dir is not None:
        with contextlib.suppress(MossError):  # unreadable: as if systemd-boot had not said
            loader = efivars.read(efivars_dir, "LoaderDevicePartUUID")
    esp, xbootldr = choose(partitions(), loader, root_disks())
    esp_at = Path(esp.mountpoint) if esp and esp.mountpoint else None
    xbootldr_at = Path(xbootldr.mountpoint) if xbootldr and xbootldr.mountpoint else None
    if esp is None and xbootldr is None:
        found_esp, found_boot = probe.usual_mounts(probe.mounts())
        return found_esp, found_boot, None
    return esp_at, xbootldr_at, esp.path if esp is not None and esp_at is None else None
