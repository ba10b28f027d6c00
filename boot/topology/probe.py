"""Reading the live system: the root device and the ESP/XBOOTLDR mounts.

Used only when moss manages ``/`` itself; an image or chroot under ``-D`` is
described by its configuration, never by the host it happens to be built on.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from moss.core.ondisk import parse_state_id
from moss.core.run import CommandError, run

ESP_TYPE = "c12a7328-f81f-11d2-ba4b-00a0c93ec93b"
XBOOTLDR_TYPE = "bc13c2ff-59e6-4262-a352-b275fd6f7172"


@dataclass(frozen=True)
class Mount:
    mount_point: Path
    device: str
    dev: str  # "major:minor"
    fstype: str
    fsroot: str = "/"  # the folder of the filesystem mounted here (a btrfs subvolume's path)
    options: str = ""  # the filesystem's own options (``subvol=/@`` on btrfs)


def unescape(field: str) -> str:
    """mountinfo escapes space, tab, newline and backslash (and, in options, comma) as octal."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m[1], 8)), field)


def mounts(mountinfo: Path = Path("/proc/self/mountinfo")) -> list[Mount]:
    return parse_mounts(mountinfo.read_text())


def parse_mounts(text: str) -> list[Mount]:
    """The lines of a mountinfo file (``proc(5)``), as text so tests can feed captured ones."""
    found = []
    for line in text.splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) < 5 or len(tail) < 2:
            continue
        found.append(Mount(Path(unescape(fields[4])), unescape(tail[1]), fields[2], tail[0],
                           unescape(fields[3]), tail[2] if len(tail) > 2 else ""))
    return found


def mount_of(path: Path, table: list[Mount]) -> Mount | None:
    """The mount a path lives on (the last, i.e. topmost, of the longest prefix)."""
    best: Mount | None = None
    for m in table:
        inside = path == m.mount_point or m.mount_point in path.parents
        if inside and (best is None or len(m.mount_point.parts) >= len(best.mount_point.parts)):
            best = m
    return best


def root_cmdline(
    mountinfo: Path = Path("/proc/self/mountinfo"), disks: Path = Path("/dev/disk")
) -> str | None:
    """``root=UUID=... rw`` for the device mounted at ``/``, if it has one."""
    root = mount_of(Path("/"), mounts(mountinfo))
    if root is None or not root.device.startswith("/"):
        return None
    found = device_id(root.device, disks)
    return f"root={found} rw" if found else None


def device_id(device: str, disks: Path = Path("/dev/disk")) -> str | None:
    """``UUID=…`` (else ``PARTUUID=…``) of a block device: udev's links, else blkid."""
    device = os.path.realpath(device)
    for folder, key in (("by-uuid", "UUID"), ("by-partuuid", "PARTUUID")):
        links = disks / folder
        if links.is_dir():
            for link in sorted(links.iterdir()):
                if os.path.realpath(link) == device:
                    return f"{key}={link.name}"
    for key in ("UUID", "PARTUUID"):
        value = _blkid(device, key) if os.path.exists(device) else ""
        if value:
            return f"{key}={value}"
    return None


def _blkid(device: str, key: str) -> str:
    try:
        return run(["blkid", "-s", key, "-o", "value", device]).stdout.strip()
    except CommandError:  # not installed, or nothing to say: a probe, not an error
        return ""


AUTOMOUNT_PLACES = (Path("/efi"), Path("/boot/efi"), Path("/boot"))


def trigger_automounts(table: list[Mount]) -> None:
    """Make systemd mount an ESP/XBOOTLDR that is only automounted (``/efi`` not yet used).

    Listing the autofs directory is the access that triggers the mount; until then
    the partition shows no mount point and would look unmounted.
    """
    for m in table:
        if m.fstype == "autofs" and m.mount_point in AUTOMOUNT_PLACES:
            # a failed mount leaves the partition counted as unmounted
            with contextlib.suppress(OSError):
                os.listdir(m.mount_point)


def usual_mounts(table: list[Mount]) -> tuple[Path | None, Path | None]:
    """Where systemd puts them when ``lsblk`` cannot tell: /efi or /boot/efi, and /boot."""
    vfat = {m.mount_point for m in table if m.fstype == "vfat"}
    esp = next((p for p in (Path("/efi"), Path("/boot/efi")) if p in vfat), None)
    boot = Path("/boot") if Path("/boot") in vfat else None
    if esp is None:
        return boot, None
    return esp, boot


def booted_state(cmdline: Path = Path("/proc/cmdline")) -> int | None:
    """The state the running kernel's entry asked for (``moss.fstx=``), if any.

    This is what the boot menu chose; whether the pivot agent could activate it is
    in its record under ``/run/moss/``.
    """
    try:
        words = cmdline.read_text().split()
    except OSError:
        return None
    for word in reversed(words):  # the kernel lets the last one win
        key, _, value = word.partition("=")
        if key == "moss.fstx" and (state_id := parse_state_id(value)) is not None:
            return state_id
    return None
