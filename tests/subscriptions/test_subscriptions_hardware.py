"""The hardware subscription on a package made from a real Debian kernel's modules."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from moss.cli import main
from moss.subscriptions.hardware import choose_modules
from moss.subscriptions.kmod import KernelModules, parse_dep, read_kernel_modules
from moss.subscriptions.modalias import read_modalias_file, running_system_pins, udev_devices
from tests.support.debian_kernel import DebianKernel, KernelUnavailable, debian_kernel
from tests.support.packages import make_package

DATA = Path(__file__).parents[1] / "data"
QEMU = DATA / "qemu-q35-virtio.modalias"
THIS = DATA / "this-machine.modalias"
UNRELATED = 25  # modules no listed machine needs, to watch them go


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


@pytest.fixture(scope="module")
def kernel() -> DebianKernel:
    if shutil.which("depmod") is None:
        pytest.skip("depmod (kmod) is not installed")
    try:
        return debian_kernel()
    except KernelUnavailable as exc:
        pytest.skip(f"no Debian kernel to package: {exc}")


@pytest.fixture(scope="module")
def modules(kernel: DebianKernel) -> KernelModules:
    return read_kernel_modules(kernel.moddir)


def _chosen(modules: KernelModules, devices_file: Path | None) -> set[str]:
    """What a user expects kept: the devices' modules, and on this machine what it uses."""
    if devices_file:
        return choose_modules(modules, read_modalias_file(devices_file)).keep
    return choose_modules(modules, udev_devices(), running_system_pins()).keep


@pytest.fixture(scope="module")
def package(kernel: DebianKernel, modules: KernelModules,
            tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, set[str]]:
    """A kernel package: every module the listed machines use, some they do not, metadata."""
    needed = _chosen(modules, QEMU) | _chosen(modules, THIS) | _chosen(modules, None)
    unrelated = sorted(m for m in modules.files if m not in needed
                       and "/net/wireless/" in modules.files[m])[:UNRELATED]
    names = needed | set(unrelated)
    base = f"lib/modules/{kernel.kver}"
    files: dict[str, bytes | str | None] = {
        f"{base}/{modules.files[m]}": (kernel.moddir / modules.files[m]).read_bytes()
        for m in names}
    for meta in kernel.moddir.glob("modules.*"):
        files[f"{base}/{meta.name}"] = meta.read_bytes()
    work = tmp_path_factory.mktemp("kernel-package")
    return make_package(work, "linux-debian", files), names


def _tree_modules(usr: Path, kver: str) -> set[str]:
    moddir = usr / "lib/modules" / kver
    return {p.name.split(".ko")[0].replace("-", "_") for p in moddir.rglob("*.ko*")}


def test_hardware_keeps_what_the_devices_need_and_depmod_agrees(
        tmp_path: Path, kernel: DebianKernel, modules: KernelModules,
        package: tuple[Path, set[str]], capsys: pytest.CaptureFixture[str]) -> None:
    stone, shipped = package
    root = tmp_path / "root"
    usr = root / "usr"
    firmware = [
        make_package(tmp_path, "fw-virtio", {"lib/firmware/virtio/net.bin": "v"},
                     provides=("kmod-firmware:virtio_net",)),
        make_package(tmp_path, "fw-wifi", {"lib/firmware/iwlwifi/iwl.ucode": "w"},
                     provides=("kmod-firmware:iwlwifi",)),
        make_package(tmp_path, "fw-plain", {"lib/firmware/plain.bin": "p"}),
    ]
    assert moss(root, "install", str(stone), *map(str, firmware)) == 0
    assert _tree_modules(usr, kernel.kver) == shipped
    assert (usr / "lib/firmware/iwlwifi/iwl.ucode").exists()

    assert moss(root, "subscription", "add", "hardware", "--modalias-file", str(QEMU)) == 0
    kept = _tree_modules(usr, kernel.kver)
    assert kept == _chosen(modules, QEMU) & shipped
    assert {"virtio_net", "virtio_blk", "virtio_pci", "virtio_scsi", "ahci"} <= kept
    # Firmware declared for a kept module stays, for a module not kept goes (with its
    # directory); firmware nobody declared is left alone.
    assert (usr / "lib/firmware/virtio/net.bin").read_text() == "v"
    assert not (usr / "lib/firmware/iwlwifi").exists()
    assert (usr / "lib/firmware/plain.bin").exists()
    # depmod ran on the new tree: modules.dep lists exactly the modules that are there,
    # and modprobe resolves the guest's network card from the regenerated index.
    moddir = usr / "lib/modules" / kernel.kver
    files, _deps = parse_dep((moddir / "modules.dep").read_text())
    assert set(files) == kept
    resolved = subprocess.run(
        ["modprobe", "-d", str(root), "-S", kernel.kver, "-R", "virtio:d00000001v00001AF4"],
        check=True, capture_output=True, text=True).stdout.split()
    assert resolved == ["virtio_net"]

    capsys.readouterr()
    assert moss(root, "state", "verify", "--json") == 0
    assert json.loads(capsys.readouterr().out)["problems"] == []

    # What the hardware report shows comes from the layout, not the filtered tree.
    assert moss(root, "hardware", "--json", "--modalias-file", str(QEMU)) == 0
    [report] = json.loads(capsys.readouterr().out)
    assert report["kver"] == kernel.kver
    assert report["module_files"] == {"total": len(shipped), "kept": len(kept),
                                      "saved": len(shipped) - len(kept)}
    virtio_net = [d for d in report["devices"] if d["modalias"] == "virtio:d00000001v00001AF4"]
    assert virtio_net and virtio_net[0]["modules"] == ["virtio_net"]

    # The configuration remembers the list; dropping it and refreshing uses udev.
    config = root / "etc/moss/subscriptions.yaml"
    assert f"modalias-file: {QEMU}" in config.read_text()
    config.write_text("enabled: [hardware]\n")
    assert moss(root, "subscription", "refresh") == 0
    assert _tree_modules(usr, kernel.kver) == _chosen(modules, None) & shipped
    assert (usr / ".stateID").read_text() == "3"

    assert moss(root, "subscription", "remove", "hardware") == 0
    assert _tree_modules(usr, kernel.kver) == shipped
    assert (usr / "lib/firmware/iwlwifi/iwl.ucode").exists()
    capsys.readouterr()
    assert moss(root, "state", "verify", "--json") == 0
    assert json.loads(capsys.readouterr().out)["problems"] == []


def test_list_says_what_hardware_would_save(
        tmp_path: Path, kernel: DebianKernel, modules: KernelModules,
        package: tuple[Path, set[str]], capsys: pytest.CaptureFixture[str]) -> None:
    stone, shipped = package
    root = tmp_path / "root"
    assert moss(root, "install", str(stone)) == 0
    config = root / "etc/moss/subscriptions.yaml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(f"hardware:\n  modalias-file: {QEMU}\n  pin: [fs-ext4]\n")
    capsys.readouterr()
    assert moss(root, "subscription", "list", "--json") == 0
    [hardware] = [s for s in json.loads(capsys.readouterr().out) if s["name"] == "hardware"]
    kept = (_chosen(modules, QEMU) | modules.closure(["ext4"])) & shipped
    assert not hardware["active"]
    assert hardware["toggle"]["saves_files"] == len(shipped) - len(kept)
    assert hardware["toggle"]["saves_bytes"] > 0
