"""What the kernel command line must say to reach the root, read from the block devices.

An entry that says only ``root=UUID=… rw`` boots a plain partition.  A root in
LUKS, on LVM or in a btrfs subvolume needs more, and an admin should never have
to write it by hand: the initramfs must be told which LUKS volumes to open
(``rd.luks.uuid=``), which logical volumes to activate (``rd.lvm.lv=VG/LV``)
and which subvolume is ``/`` (``rootflags=subvol=``) — without that last one the
top-level volume is mounted, the pivot agent finds no ``.moss/root/N`` and the
boot ends in emergency mode.

The walk goes down from the device the root filesystem sits on, through
sysfs ``slaves``, reading device-mapper UUIDs: ``CRYPT-LUKS2-<uuid>-<name>`` is
a LUKS volume, ``LVM-<vg uuid><lv uuid>`` a logical volume whose ``dm/name`` is
``VG-LV`` with each ``-`` of a name doubled.  It takes the sysfs root and the
mountinfo text as arguments, so tests feed it captured layouts.  A stack it
cannot describe (another device-mapper target, md RAID, a network or memory
filesystem) is :class:`UnknownStack`, one line naming it: guessing would write
entries that do not boot.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from boot.topology import probe
from moss.core.errors import MossError

LUKS_UUID = re.compile(r"CRYPT-LUKS[12]-([0-9a-fA-F]{32})-.*", re.DOTALL)
LVM_UUID = re.compile(r"LVM-[A-Za-z0-9]{64}(-.*)?", re.DOTALL)
# VG-LV, each name's own "-" doubled; a name never starts with "-" (lvm(8)).
LVM_NAME = re.compile(r"((?:[^-]|--)+)-((?:[^-]|--)+)", re.DOTALL)
# What a subvolume name may hold and still be one word of rootflags= (no "," or space).
SUBVOL = re.compile(r"[A-Za-z0-9._+~@/-]+")
_MAX_DEPTH = 32


class UnknownStack(MossError):
    """A root that moss cannot describe on a kernel command line."""


@dataclass(frozen=True)
class RootStack:
    """The root filesystem and the devices under it, top to bottom."""

    device: str  # the filesystem's device as mountinfo names it
    node: str | None  # its sysfs name ("dm-1", "sda2"), None when sysfs does not list it
    fstype: str
    subvol: str | None = None
    luks: tuple[str, ...] = ()  # LUKS UUIDs, with dashes, in the order the walk met them
    lvm: tuple[str, ...] = ()  # "VG/LV"
    leaves: tuple[str, ...] = field(default=())  # the partitions or disks at the bottom

    def needs(self) -> list[str]:
        """What the initramfs must carry for this root: "dm-crypt", "lvm", "btrfs"."""
        wanted = []
        if self.luks:
            wanted.append("dm-crypt")
        if self.lvm:
            wanted.append("lvm")
        if self.fstype == "btrfs":
            wanted.append("btrfs")
        return wanted


def luks_uuid(dm_uuid: str) -> str | None:
    """``CRYPT-LUKS2-0123…-name`` → ``01234567-89ab-…``, else None."""
    match = LUKS_UUID.fullmatch(dm_uuid)
    if match is None:
        return None
    h = match[1].lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def lvm_name(dm_name: str) -> str | None:
    """``vg--a-lv--b`` → ``vg-a/lv-b``; None when the name is not ``VG-LV``."""
    match = LVM_NAME.fullmatch(dm_name)
    if match is None or match[1].startswith("-") or match[2].startswith("-"):
        return None
    return f"{match[1].replace('--', '-')}/{match[2].replace('--', '-')}"


def subvolume(mount: probe.Mount) -> str | None:
    """The btrfs subvolume mounted, without its leading ``/``; None for the top level."""
    if mount.fstype != "btrfs":
        return None
    value = mount.fsroot
    for option in mount.options.split(","):
        key, sep, rest = option.partition("=")
        if sep and key == "subvol":
            value = probe.unescape(rest)
    value = value.strip("/")
    if value and SUBVOL.fullmatch(value) is None:
        raise UnknownStack(
            f"the root is btrfs subvolume {value!r}, which cannot be written on a kernel "
            "command line (rootflags= takes no ',', space or quote): rename it"
        )
    return value or None


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()
    except OSError:
        return ""


def node_of(sysfs: Path, mount: probe.Mount) -> str | None:
    """The sysfs name of the device a mount comes from.

    mountinfo's ``major:minor`` names it, except on btrfs (an anonymous ``0:N``);
    then the device path's name, or for ``/dev/mapper/NAME`` the dm device so named.
    """
    blocks = sysfs / "class" / "block"
    by_dev = sysfs / "dev" / "block" / mount.dev
    if not mount.dev.startswith("0:") and by_dev.exists():
        return Path(os.path.realpath(by_dev)).name
    name = Path(os.path.realpath(mount.device)).name
    if name and (blocks / name).exists():
        return name
    if mount.device.startswith("/dev/mapper/") and blocks.is_dir():
        wanted = mount.device.removeprefix("/dev/mapper/")
        for node in sorted(blocks.iterdir()):
            if _read(node / "dm" / "name") == wanted:
                return node.name
    return None


@dataclass
class _Walk:
    luks: list[str] = field(default_factory=list)
    lvm: list[str] = field(default_factory=list)
    leaves: list[str] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)


def _walk(blocks: Path, name: str, found: _Walk, in_lvm: bool, depth: int) -> None:
    if name in found.seen:
        return
    if depth > _MAX_DEPTH:
        raise UnknownStack(f"the root's block devices nest deeper than {_MAX_DEPTH} at {name}")
    found.seen.add(name)
    node = blocks / name
    below = node / "slaves"
    slaves = sorted(p.name for p in below.iterdir()) if below.is_dir() else []
    if (node / "dm").is_dir():
        uuid, dm_name = _read(node / "dm" / "uuid"), _read(node / "dm" / "name")
        if (luks := luks_uuid(uuid)) is not None:
            if luks not in found.luks:
                found.luks.append(luks)
        elif LVM_UUID.fullmatch(uuid):
            # Only the topmost LV of a path is asked for: pools, snapshots' origins
            # and RAID images beneath it are activated with it.
            lv = lvm_name(dm_name)
            if lv is None:
                raise UnknownStack(f"the root's logical volume {dm_name!r} is not named VG-LV")
            if not in_lvm and lv not in found.lvm:
                found.lvm.append(lv)
            in_lvm = True
        else:
            kind = uuid.split("-", 1)[0] if uuid else "no uuid"
            raise UnknownStack(
                f"the root is on device-mapper device {dm_name or name!r} ({kind}), "
                "which moss cannot describe on a kernel command line"
            )
    elif (node / "md").is_dir():
        raise UnknownStack(f"the root is on md RAID {name}, which moss does not describe yet")
    elif slaves:
        raise UnknownStack(f"the root is on {name}, a stacked device moss cannot describe")
    else:
        found.leaves.append(name)
    for slave in slaves:
        _walk(blocks, slave, found, in_lvm, depth + 1)


def describe(mount: probe.Mount, sysfs: Path = Path("/sys")) -> RootStack:
    """The stack under the filesystem mounted by ``mount``."""
    if not mount.device.startswith("/"):
        raise UnknownStack(
            f"the root is {mount.fstype} from {mount.device!r}, not a block device: "
            "moss cannot describe it; set root = ... in /etc/moss/boot.conf"
        )
    subvol = subvolume(mount)
    node = node_of(sysfs, mount)
    if node is None:  # a device sysfs does not list: nothing to walk, only its UUID
        return RootStack(mount.device, None, mount.fstype, subvol)
    found = _Walk()
    _walk(sysfs / "class" / "block", node, found, False, 0)
    return RootStack(mount.device, node, mount.fstype, subvol, tuple(found.luks),
                     tuple(found.lvm), tuple(found.leaves))


def arguments(stack: RootStack, device_id: str | None) -> str | None:
    """The command line words for ``stack``; ``device_id`` is ``UUID=…``/``PARTUUID=…``."""
    if device_id is None:
        return None
    words = [f"root={device_id}", "rw"]
    if stack.subvol:
        words.append(f"rootflags=subvol={stack.subvol}")
    words += [f"rd.luks.uuid={u}" for u in stack.luks]
    words += [f"rd.lvm.lv={lv}" for lv in stack.lvm]
    return " ".join(words)


def mount_at(where: Path, mountinfo_text: str) -> probe.Mount | None:
    """The topmost mount whose mount point is exactly ``where``."""
    found = [m for m in probe.parse_mounts(mountinfo_text) if m.mount_point == where]
    return found[-1] if found else None


def root_arguments(
    where: Path,
    *,
    live: bool,
    mountinfo_text: str | None = None,
    sysfs: Path = Path("/sys"),
    device_id: Callable[[str], str | None] | None = None,
) -> str | None:
    """``root=… rw`` and what the stack needs, for the filesystem mounted at ``where``.

    Live (``where`` is ``/``), a root moss cannot describe raises
    :class:`UnknownStack`.  For ``-D ROOT`` the device ROOT is mounted from is
    described when it is a block device; ROOT not being a mount point, or being a
    memory filesystem, says nothing (an image is described by its ``boot.conf``).
    """
    text = mountinfo_text
    if text is None:
        text = Path("/proc/self/mountinfo").read_text()
    mount = mount_at(where, text)
    if mount is None:
        return None
    if not live and not mount.device.startswith("/"):
        return None
    stack = describe(mount, sysfs)
    lookup = device_id or probe.device_id
    return arguments(stack, lookup(mount.device))
