"""Matching modaliases against a real Debian kernel's modules.alias, checked against modprobe."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from moss.core.errors import MossError
from moss.subscriptions.hardware import choose_modules
from moss.subscriptions.kmod import (
    KernelModules,
    from_texts,
    module_name,
    read_kernel_modules,
)
from moss.subscriptions.modalias import (
    Device,
    read_modalias_file,
    running_system_pins,
    udev_devices,
)
from tests.support.debian_kernel import DebianKernel, KernelUnavailable, debian_kernel

DATA = Path(__file__).parents[1] / "data"
RECORDED = ["this-machine.modalias", "qemu-q35-virtio.modalias"]

ALIAS = """\
# Aliases extracted from modules themselves.
alias pci:v00001AF4d*sv*sd*bc*sc*i* virtio_pci
alias pci:v00001AF4d00001000sv*sd*bc*sc*i* virtio-extra
alias virtio:d00000001v* virtio_net
alias fs-ext4 ext4
"""
DEP = """\
kernel/drivers/virtio/virtio_pci.ko.xz: kernel/drivers/virtio/virtio_ring.ko.xz
kernel/drivers/virtio/virtio_ring.ko.xz: kernel/drivers/virtio/virtio.ko.xz
kernel/drivers/virtio/virtio.ko.xz:
kernel/drivers/virtio/virtio-extra.ko.zst:
kernel/drivers/net/virtio_net.ko.xz: kernel/drivers/net/net_failover.ko.xz
kernel/drivers/net/net_failover.ko.xz:
kernel/fs/ext4/ext4.ko.xz:
kernel/drivers/unused.ko.xz:
"""


@pytest.fixture(scope="module")
def kernel() -> DebianKernel:
    try:
        return debian_kernel()
    except KernelUnavailable as exc:
        pytest.skip(f"no Debian kernel to match against: {exc}")


@pytest.fixture(scope="module")
def modules(kernel: DebianKernel) -> KernelModules:
    return read_kernel_modules(kernel.moddir)


def test_module_names_are_normalised_like_kmod() -> None:
    assert module_name("kernel/drivers/virtio/virtio-extra.ko.zst") == "virtio_extra"
    assert module_name("kernel/fs/ext4/ext4.ko") == "ext4"


def test_every_matching_alias_counts_and_dependencies_close() -> None:
    km = from_texts("6.0", ALIAS, DEP, "kernel/drivers/builtin.ko\n")
    devices = [Device("/sys/a", "pci:v00001AF4d00001000sv00001AF4sd00000001bc02sc00i00"),
               Device("/sys/a/virtio0", "virtio:d00000001v00001AF4"),
               Device("/sys/b", "acpi:PNP0303:")]
    choice = choose_modules(km, devices, pins=["fs-ext4"])
    assert [d.modules for d in choice.devices] == [["virtio_pci", "virtio_extra"],
                                                   ["virtio_net"], []]
    assert choice.keep == {"virtio_pci", "virtio_ring", "virtio", "virtio_extra",
                           "virtio_net", "net_failover", "ext4"}
    assert "kernel/drivers/virtio/virtio-extra.ko.zst" in choice.keep_files(km)
    assert km.builtin == {"builtin"}


def test_recorded_list_is_read_and_bad_lines_refused(tmp_path: Path) -> None:
    devices = read_modalias_file(DATA / "qemu-q35-virtio.modalias")
    assert any(d.modalias == "virtio:d00000001v00001AF4" for d in devices)
    assert all(d.syspath.startswith("/sys/devices/") for d in devices)
    bad = tmp_path / "bad"
    bad.write_text("pci:v1 too many words\n")
    with pytest.raises(MossError, match="bad:1"):
        read_modalias_file(bad)


def _modprobe_resolve(kernel: DebianKernel, modalias: str) -> set[str]:
    proc = subprocess.run(["modprobe", "-d", str(kernel.root), "-S", kernel.kver, "-R",
                           modalias], capture_output=True, text=True)
    return {line.strip().replace("-", "_") for line in proc.stdout.splitlines()
            if line.strip()}


@pytest.mark.parametrize("listing", [*RECORDED, "udev"])
def test_matches_agree_with_modprobe_resolve(kernel: DebianKernel, modules: KernelModules,
                                             listing: str) -> None:
    if shutil.which("modprobe") is None:
        pytest.skip("modprobe (kmod) is not installed")
    devices = udev_devices() if listing == "udev" else read_modalias_file(DATA / listing)
    assert devices, "no device with a modalias"
    for modalias in sorted({d.modalias for d in devices}):
        expected = _modprobe_resolve(kernel, modalias) - modules.builtin
        assert set(modules.match(modalias)) == expected, modalias


def test_qemu_guest_keeps_its_virtio_drivers_and_their_closure(modules: KernelModules
                                                               ) -> None:
    choice = choose_modules(modules, read_modalias_file(DATA / "qemu-q35-virtio.modalias"))
    assert {"virtio_pci", "virtio_net", "virtio_blk", "virtio_scsi", "virtio_rng",
            "virtio_balloon", "virtio_console", "virtio_gpu", "virtio_input", "ahci",
            } <= choice.keep
    for name in choice.keep:
        assert set(modules.depends[name]) <= choice.keep, name
    assert len(choice.keep) < len(modules.files) / 50


def test_running_system_pins_loaded_modules_and_mounted_file_systems(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    (proc / "self").mkdir(parents=True)
    (proc / "modules").write_text("dm_crypt 61440 1 - Live 0x0\noverlay 200704 0 - Live 0x0\n")
    (proc / "self/mounts").write_text("/dev/vda1 / ext4 rw 0 0\nproc /proc proc rw 0 0\n")
    assert running_system_pins(proc) == ["dm_crypt", "fs-ext4", "fs-proc", "overlay"]
    (proc / "modules").unlink()  # a kernel without loadable modules
    assert running_system_pins(proc) == ["fs-ext4", "fs-proc"]


def test_this_machines_mounted_file_systems_are_kept(modules: KernelModules) -> None:
    pins = running_system_pins()
    choice = choose_modules(modules, [], pins)
    for fstype in ("ext4", "vfat", "xfs", "btrfs"):
        if f"fs-{fstype}" in pins and fstype in modules.files:
            assert fstype in choice.keep
