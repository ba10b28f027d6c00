"""Kernel discovery (both layouts), command line assembly, configuration, probing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import boot
from boot.statetree import cmdline, kernels
from boot.topology import probe
from moss.core.errors import MossError
from tests.boot.test_boot_sync import (
    bootctl,
    bootctl_list,
    config_for,
    entry_files,
    make_state,
    root,
)

__all__ = ["bootctl", "root"]  # fixtures shared with the sync tests


def legacy_state(base: Path, state_id: int) -> boot.BootState:
    """A state packaged with clr-boot-manager's flat naming."""
    state = make_state(base, state_id, kvers=())
    kdir = state.usr / "lib" / "kernel"
    kdir.mkdir(parents=True)
    (kdir / "org.clearlinux.native.5.15.12-1101").write_bytes(b"legacy kernel" * 500)
    (kdir / "initrd-org.clearlinux.native.5.15.12-1101").write_bytes(b"legacy initrd" * 100)
    (kdir / "cmdline-5.15.12-1101.native").write_text("console=tty0\n# comment\nquiet\n")
    (kdir / "config-5.15.12-1101.native").write_text("CONFIG_X=y\n")
    return state


def test_directory_layout_with_variants(tmp_path: Path) -> None:
    state = make_state(tmp_path, 1, kvers=("6.6.7", "6.10.2", "6.9.1"))
    found = kernels.discover(state.usr)
    assert [k.kver for k in found] == ["6.10.2", "6.9.1", "6.6.7"]
    newest = found[0]
    assert newest.image == state.usr / "lib/kernel/6.10.2/vmlinuz"
    assert [p.name for p in newest.initrds] == ["10-moss.initrd"]
    assert (newest.name, newest.version, newest.variant) == ("linux", "6.10.2", "desktop")


def test_directory_without_vmlinuz_is_not_a_kernel(tmp_path: Path) -> None:
    state = make_state(tmp_path, 1)
    (state.usr / "lib" / "kernel" / "cmdline.d").mkdir()
    (state.usr / "lib" / "kernel" / "6.1.0").mkdir()
    assert [k.kver for k in kernels.discover(state.usr)] == ["6.6.7"]
    assert kernels.discover(tmp_path / "nothing" / "usr") == []


def test_bad_boot_json_is_a_clear_error(tmp_path: Path) -> None:
    state = make_state(tmp_path, 1)
    (state.usr / "lib" / "kernel" / "6.6.7" / "boot.json").write_text("{not json")
    with pytest.raises(MossError, match=r"boot\.json"):
        kernels.discover(state.usr)


def test_legacy_naming(tmp_path: Path) -> None:
    state = legacy_state(tmp_path, 1)
    (found,) = kernels.discover(state.usr)
    assert found.kver == "5.15.12-1101.native"
    assert (found.name, found.variant, found.version, found.release) == (
        "org.clearlinux", "native", "5.15.12", "1101",
    )
    assert [p.name for p in found.initrds] == ["initrd-org.clearlinux.native.5.15.12-1101"]
    assert [p.name for p in found.cmdline_files] == ["cmdline-5.15.12-1101.native"]
    assert found.config is not None and found.config.name == "config-5.15.12-1101.native"


def test_legacy_kernel_gets_a_bootable_entry(root: Path, tmp_path: Path, bootctl: object) -> None:
    espdir = tmp_path / "esp"
    espdir.mkdir()
    state = legacy_state(root, 4)
    boot.sync(root, [state], 4, None, config_for(root, espdir))
    assert entry_files(espdir) == ["serpentos-5.15.12-1101.native-4.conf"]
    (entry,), default = bootctl_list(espdir)
    assert default == "serpentos-5.15.12-1101.native-4.conf"
    assert entry["linux"] == "/EFI/serpentos/5.15.12-1101.native/vmlinuz"
    assert entry["initrd"] == [
        "/EFI/serpentos/5.15.12-1101.native/initrd-org.clearlinux.native.5.15.12-1101"
    ]
    assert entry["options"] == "root=UUID=1234-abcd rw moss.fstx=4 console=tty0 quiet"
    image = espdir / "EFI/serpentos/5.15.12-1101.native/vmlinuz"
    assert image.read_bytes() == b"legacy kernel" * 500


def test_cmdline_order_and_sorting(tmp_path: Path) -> None:
    rootdir = tmp_path / "root"
    state = make_state(tmp_path, 7)
    etc = rootdir / "etc" / "kernel" / "cmdline.d"
    etc.mkdir(parents=True)
    (etc / "20-b.cmdline").write_text("etc-b\n")
    (etc / "10-a.cmdline").write_text("etc-a  x=1\n\n")
    (etc / "ignored.txt").write_text("nope\n")
    vendor = state.usr / "lib" / "kernel" / "cmdline.d"
    vendor.mkdir()
    (vendor / "50-z.cmdline").write_text("vendor-z\n")
    (vendor / "05-y.cmdline").write_text("vendor-y\n")
    (kernel,) = kernels.discover(state.usr)
    line = cmdline.assemble(rootdir, state.usr, kernel, 7, "root=PARTUUID=77 rw")
    assert line == "root=PARTUUID=77 rw etc-a x=1 etc-b moss.fstx=7 quiet vendor-y vendor-z"


def test_config_file_and_kernel_cmdline(tmp_path: Path) -> None:
    rootdir = tmp_path / "root"
    (rootdir / "etc" / "kernel").mkdir(parents=True)
    (rootdir / "etc" / "kernel" / "cmdline").write_text("root=UUID=feed rw\n")
    (rootdir / "etc" / "moss").mkdir()
    (rootdir / "boot").mkdir()
    (rootdir / "efi").mkdir()
    (rootdir / "etc" / "os-release").write_text('ID=serpentos\nNAME="Serpent OS"\n')
    (rootdir / "etc" / "moss" / "boot.conf").write_text(
        "# boot settings\nkeep = 3\nesp = /efi\nxbootldr = /boot\nefivars = /vars\n"
    )
    config = boot.load_config(rootdir)
    assert config.keep == 3
    assert config.esp == rootdir / "efi" and config.xbootldr == rootdir / "boot"
    assert config.boot_dir == rootdir / "boot"
    assert config.cmdline_root == "root=UUID=feed rw"
    assert config.efivars == rootdir / "vars"
    assert (config.os_id, config.os_name) == ("serpentos", "Serpent OS")
    # what the caller passes wins
    assert boot.load_config(rootdir, boot=rootdir / "efi").xbootldr == rootdir / "efi"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("colour = blue\n", "expected one of"),
        ("keep = many\n", "whole number"),
        ("backend = grub\n", "backend must be"),
        ("os-id = systemd\n", "os-id"),
        ("esp = /missing\n", "does not exist"),
    ],
)
def test_bad_config_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "etc" / "moss").mkdir(parents=True)
    (tmp_path / "efi").mkdir()
    (tmp_path / "etc" / "moss" / "boot.conf").write_text(text)
    with pytest.raises(MossError, match=message):
        boot.load_config(tmp_path, esp=None if "esp" in text else tmp_path / "efi")


def test_root_device_from_mountinfo(tmp_path: Path) -> None:
    device = tmp_path / "vda2"
    device.write_text("")
    disks = tmp_path / "disk"
    (disks / "by-uuid").mkdir(parents=True)
    (disks / "by-uuid" / "0aa1-bb2c").symlink_to(device)
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        f"22 1 254:2 / / rw,relatime shared:1 - ext4 {device} rw\n"
        "30 22 0:5 / /dev rw shared:2 - devtmpfs udev rw\n"
        f"40 22 254:1 / /my\\040efi rw shared:3 - vfat {tmp_path}/vda1 rw\n"
    )
    assert probe.root_cmdline(mountinfo, disks) == "root=UUID=0aa1-bb2c rw"
    table = probe.mounts(mountinfo)
    assert probe.mount_of(Path("/my efi/EFI"), table) == table[2]
    assert json.dumps(str(table[2].mount_point)) == '"/my efi"'


def test_usual_vfat_mounts_when_lsblk_cannot_tell(tmp_path: Path) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(
        "22 1 254:2 / / rw - ext4 /dev/vda2 rw\n"
        "40 22 254:1 / /boot/efi rw - vfat /dev/vda1 rw\n"
        "41 22 254:3 / /boot rw - vfat /dev/vda3 rw\n"
    )
    table = probe.mounts(mountinfo)
    assert probe.usual_mounts(table) == (Path("/boot/efi"), Path("/boot"))
    assert probe.usual_mounts(table[:1]) == (None, None)


def test_booted_state_from_kernel_command_line(tmp_path: Path) -> None:
    line = tmp_path / "cmdline"
    line.write_text("root=UUID=1 rw moss.fstx=12 quiet\n")
    assert probe.booted_state(line) == 12
    line.write_text("root=UUID=1 rw quiet moss.fstx=bad\n")
    assert probe.booted_state(line) is None
    assert probe.booted_state(tmp_path / "missing") is None
