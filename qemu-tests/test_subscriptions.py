"""The hardware subscription (issue #8) in a real guest: its modules are what its devices need.

The guest lists its devices' ``MODALIAS`` and the module files on its root; the
expected set is kmod's own answer (``modprobe -R`` and ``--show-depends``) for
those devices, computed on the host from the same kernel's module tree.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import guest
from boots import MachineMaker, boot_once, build_root
from conftest import Packages

REPORT_DEVICES = """# qemu-tests: the guest's devices and the kernel modules on its root
for f in /sys/bus/*/devices/*/modalias; do echo "GUEST modalias=$(cat "$f")"; done
for f in $(find /usr/lib/modules -name '*.ko*'); do echo "GUEST module=${f##*/}"; done
"""


def needed_modules(moddir: Path, kver: str, modaliases: list[str]) -> set[str]:
    """Module files kmod itself would load for these devices: every alias match + deps."""
    base = str(moddir.parents[2])
    names: set[str] = set()
    for alias in modaliases:
        out = subprocess.run(["modprobe", "-d", base, "-S", kver, "-R", alias],
                             capture_output=True, text=True)  # exit 1: nothing matches
        names.update(out.stdout.split())
    files: set[str] = set()
    for name in names:
        out = subprocess.run(["modprobe", "-d", base, "-S", kver, "--show-depends", name],
                             capture_output=True, text=True, check=True)
        files.update(Path(ln.split()[1]).name for ln in out.stdout.splitlines()
                     if ln.startswith("insmod "))
    return files


def test_hardware_subscription_keeps_exactly_the_modules_of_the_guests_devices(
    packages: Packages, linux_with_modules: Path, machines: MachineMaker, tmp_path: Path
) -> None:
    kernel = packages.cloud
    stones = [packages.busybox, packages.init, packages.systemd_boot, linux_with_modules]
    root = build_root(tmp_path / "root", [stones])
    report = root / "etc/qemu-guest/report.d/devices"
    report.parent.mkdir(parents=True)
    report.write_text(REPORT_DEVICES)

    # boot 1: every module of the kernel is on the root; the guest lists its devices
    full, _ = boot_once(machines, root, tmp_path / "vm1", "hardware: all modules")
    every = {p.name for p in kernel.moddir.rglob("*.ko*")}
    assert set(full.values["module"]) == every
    devices = full.values["modalias"]
    assert any(d.startswith("virtio:") for d in devices)

    # the user turns the hardware subscription on for that machine's devices
    recorded = tmp_path / "guest.modalias"
    recorded.write_text("\n".join(devices) + "\n")
    (root / "etc/moss/subscriptions.yaml").write_text(f"hardware:\n  modalias-file: {recorded}\n")
    guest.moss(root, "subscription", "add", "hardware")
    assert guest.state_id(root) == 2

    # boot 2: the new state has exactly the modules kmod would load for those devices
    slim, _ = boot_once(machines, root, tmp_path / "vm2", "hardware: the guest's modules")
    assert slim.one("stateid") == "2"
    assert sorted(slim.values["modalias"]) == sorted(devices)
    expected = needed_modules(kernel.moddir, kernel.kver, devices)
    assert {"virtio_pci.ko", "virtio_blk.ko"} <= expected
    assert sorted(slim.values["module"]) == sorted(expected)
    print(f"[qemu] hardware subscription: {len(expected)} of {len(every)} modules kept")
