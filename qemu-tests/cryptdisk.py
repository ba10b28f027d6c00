"""The real-OS guest's encrypted root disk, built on the host without device-mapper.

Two stacks, as distribution installers lay them out:

- ``btrfs``: LUKS2 → btrfs, the OS in subvolume ``@`` (Fedora's default), the
  top-level volume left the default so a boot without ``rootflags=subvol=@`` fails;
- ``lvm``: LUKS2 → LVM (volume group ``vgmoss``, logical volume ``root``) → ext4.

This host's kernel has no device-mapper, so nothing is opened: the filesystem is
made in a plain image (btrfs through a loop mount, for the subvolume and hard
links; ext4 with ``mkfs.ext4 -d``), LVM's metadata is written with activation off
and the ext4 image placed at the volume's first extent, then ``cryptsetup reencrypt
--encrypt`` encrypts the image in place, in user space (LUKS2, PBKDF2 with few
iterations so TCG unlocks fast).  The passphrase is a key file that only the
installer's boot gets (on a small ext4 disk, ``rd.luks.key=``); every boot after
it unlocks with the TPM2 token the installer enrolled.
"""

from __future__ import annotations

import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

# Room the offline encryption needs at the end of the image (twice the LUKS2 header).
LUKS_SLACK_MIB = 32
KEY_LABEL = "MOSSKEY"
KEY_FILE = "root.key"
VG, LV = "vgmoss", "root"
# LVM commands that never touch device-mapper or the host's own LVM archive.
LVM_CONFIG = ("global{activation=0} backup{backup=0 archive=0} "
              "devices{obtain_device_list_from_udev=0}")


@dataclass(frozen=True)
class Stack:
    """What an installer knows of the disk it made (and moss must find by itself)."""

    kind: str  # "btrfs" or "lvm"
    luks_uuid: str
    fs_uuid: str

    def installer_arguments(self) -> str:
        """The installer's own command line for its first boot (moss writes every later one)."""
        words = [f"root=UUID={self.fs_uuid}", "rw", f"rd.luks.uuid={self.luks_uuid}",
                 f"rd.luks.key={self.luks_uuid}=/{KEY_FILE}:LABEL={KEY_LABEL}"]
        if self.kind == "btrfs":
            words.append("rootflags=subvol=@")
        else:
            words.append(f"rd.lvm.lv={VG}/{LV}")
        return " ".join(words)


def encrypted_root(kind: str, root: Path, image: Path, size_mib: int, key: Path) -> Stack:
    """``root``'s tree in a new encrypted disk ``image`` of the ``kind`` stack."""
    fs_uuid, luks_uuid = str(uuid.uuid4()), str(uuid.uuid4())
    if kind == "btrfs":
        _btrfs_image(root, image, size_mib, fs_uuid)
    elif kind == "lvm":
        _lvm_image(root, image, size_mib, fs_uuid)
    else:
        raise ValueError(kind)
    with open(image, "r+b") as f:
        f.truncate(f.seek(0, 2) + LUKS_SLACK_MIB * 1024 * 1024)
    run(["cryptsetup", "reencrypt", "--encrypt", "--type", "luks2", "--batch-mode",
         "--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--uuid", luks_uuid,
         "--reduce-device-size", f"{LUKS_SLACK_MIB}M", "--key-file", str(key), str(image)])
    return Stack(kind, luks_uuid, fs_uuid)


def _btrfs_image(root: Path, image: Path, size_mib: int, fs_uuid: str) -> None:
    """btrfs with the tree in subvolume ``@`` (hard links kept: one ``cp -a``)."""
    with open(image, "wb") as f:
        f.truncate(size_mib * 1024 * 1024)
    run(["mkfs.btrfs", "-q", "-U", fs_uuid, "-L", "root", str(image)])
    mnt = image.with_name(image.name + ".mnt")
    mnt.mkdir()
    run(["mount", "-o", "loop", str(image), str(mnt)])
    try:
        run(["btrfs", "subvolume", "create", str(mnt / "@")])
        run(["cp", "-a", f"{root}/.", str(mnt / "@")])
    finally:
        run(["umount", str(mnt)])
        mnt.rmdir()


def _lvm_image(root: Path, image: Path, size_mib: int, fs_uuid: str) -> None:
    """An LVM physical volume whose one logical volume holds ext4 of ``root``."""
    with open(image, "wb") as f:
        f.truncate(size_mib * 1024 * 1024)
    loop = run(["losetup", "--find", "--show", str(image)]).strip()
    try:
        for cmd in (["pvcreate", loop], ["vgcreate", VG, loop],
                    ["lvcreate", "-an", "-Zn", "-n", LV, "-l", "100%FREE", VG]):
            run([*cmd[:1], "--config", LVM_CONFIG, "-q", *cmd[1:]])
        start = int(run(["pvs", "--config", LVM_CONFIG, "--noheadings", "--units", "b",
                         "--nosuffix", "-o", "pe_start", loop]).strip())
        extents = run(["lvs", "--config", LVM_CONFIG, "--noheadings", "--units", "b",
                       "--nosuffix", "-o", "lv_size", f"{VG}/{LV}"]).strip()
    finally:
        run(["losetup", "-d", loop])
    fs = image.with_name(image.name + ".ext4")
    run(["mkfs.ext4", "-q", "-F", "-U", fs_uuid, "-L", "root", "-d", str(root), str(fs),
         f"{int(extents) // 1024}k"])
    run(["dd", f"if={fs}", f"of={image}", "bs=1M", f"seek={start}", "oflag=seek_bytes",
         "conv=notrunc,sparse", "status=none"])
    fs.unlink()


def key_disk(key: Path, image: Path) -> None:
    """The installer's key disk: ext4 labelled ``MOSSKEY`` holding the key file."""
    folder = image.with_name(image.name + ".d")
    folder.mkdir()
    (folder / KEY_FILE).write_bytes(key.read_bytes())
    (folder / KEY_FILE).chmod(0o600)
    run(["mkfs.ext4", "-q", "-F", "-L", KEY_LABEL, "-d", str(folder), str(image), "4M"])
    (folder / KEY_FILE).unlink()
    folder.rmdir()


def run(cmd: list[str]) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stderr}")
    return proc.stdout
