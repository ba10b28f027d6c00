"""``moss boot bless`` on the busybox guest: a good boot of a pending state is blessed and stays.

The busybox guest has no Python, so moss cannot run inside it.  Its init prints
what the init of such a system hands to ``moss boot bless`` (the agent's record
``/run/moss/pivot.json`` and systemd-boot's ``LoaderBootCountPath``, read from
efivarfs), and the host runs the documented step on the guest's real disks,
loop-mounted, as that init would at the end of a good boot.  The other outcome,
a pending state that never boots well, is
``test_boot.py::test_failing_pending_state_is_tried_three_times_then_rolled_back``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import guest
import pytest
from boots import BOOT_TIMEOUT, MachineMaker, boot_once, build_root, pivot_of, print_timing
from conftest import Packages
from machine import Boot, reports


def boot_again(machines: MachineMaker, images: guest.Images, work: Path, name: str) -> Boot:
    """One more untouched boot on the same disks and VARS store."""
    machine = machines(images, work)
    machine.start()
    machine.wait_for(r"GUEST done", BOOT_TIMEOUT)
    found = reports(machine.log())
    assert len(found) == 1, f"expected one boot, saw {len(found)}"
    boot = Boot(machine.wait_poweroff(60), found[0])
    print_timing(name, boot)
    return boot


def esp_entries(images: guest.Images) -> list[str]:
    listing = subprocess.run(["mdir", "-b", "-i", str(images.esp), "::/loader/entries"],
                             check=True, capture_output=True, text=True, env=guest.MTOOLS)
    return sorted(line.rsplit("/", 1)[-1] for line in listing.stdout.split())


def require_loop_mounts() -> None:
    """Skip, naming what is missing, where the host cannot loop-mount the guest's disks."""
    if os.geteuid() != 0:
        pytest.skip("loop-mounting the guest's disks needs root")
    if not Path("/dev/loop-control").exists():
        pytest.skip("no loop devices on this host (/dev/loop-control is missing)")


def _mount(image: Path, mountpoint: Path, fstype: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["mount", "-t", fstype, "-o", "loop", str(image), str(mountpoint)],
                          capture_output=True, text=True)


@contextlib.contextmanager
def loop_mounted(image: Path, mountpoint: Path) -> Iterator[Path]:
    """The ext4 ``image`` mounted through a loop device; always unmounted after."""
    mountpoint.mkdir(parents=True)
    proc = _mount(image, mountpoint, "ext4")
    if proc.returncode != 0:
        pytest.skip(f"cannot loop-mount {image.name} (ext4): {proc.stderr.strip()}")
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], check=True)


@contextlib.contextmanager
def esp_mounted(image: Path, mountpoint: Path) -> Iterator[Path]:
    """The FAT ``image`` mounted: by the kernel (vfat), else by ``fusefat`` in user space.

    Some hosts (containers, CI's machines) have no vfat in their kernel; fusefat
    writes the same image file, and stops only once it is unmounted.
    """
    mountpoint.mkdir(parents=True)
    proc = _mount(image, mountpoint, "vfat")
    if proc.returncode == 0:
        try:
            yield mountpoint
        finally:
            subprocess.run(["umount", str(mountpoint)], check=True)
        return
    if shutil.which("fusefat") is None or not Path("/dev/fuse").exists():
        pytest.skip(f"cannot mount the guest's ESP: no vfat in this kernel "
                    f"({proc.stderr.strip().splitlines()[0]}) and no fusefat with /dev/fuse")
    fuse = subprocess.Popen(["fusefat", "-f", "-o", "rw+", str(image), str(mountpoint)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        _wait_mounted(mountpoint, fuse)
        yield mountpoint
    finally:
        subprocess.run(["umount", str(mountpoint)], capture_output=True)
        try:
            fuse.wait(30)  # every write is in the image once it exits
        except subprocess.TimeoutExpired:
            fuse.kill()
            raise


def _wait_mounted(mountpoint: Path, fuse: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 10
    while not os.path.ismount(mountpoint):
        if fuse.poll() is not None or time.monotonic() > deadline:
            err = fuse.stderr.read().decode() if fuse.stderr and fuse.poll() is not None else ""
            raise AssertionError(f"fusefat did not mount {mountpoint}: {err}")
        time.sleep(0.1)


def bless_on_the_guests_disks(images: guest.Images, work: Path, pivot: str,
                              count_path: str) -> str:
    """What the guest's init would run at the end of a good boot: ``moss boot bless``.

    The agent's record goes where the boot left it (``/run``, a tmpfs on a real
    system) and ``LoaderBootCountPath`` where a ``-D`` root's efivars are
    (boot.conf: ``efivars = /efivars``); both are removed again afterwards.
    """
    with loop_mounted(images.root, work / "root") as root, \
            esp_mounted(images.esp, work / "esp") as esp:
        record = root / "run/moss/pivot.json"
        variable = root / "efivars" / f"LoaderBootCountPath-{guest.SYSTEMD_BOOT_GUID}"
        try:
            record.parent.mkdir(parents=True)
            record.write_text(pivot)
            variable.write_bytes(b"\x07\0\0\0" + (count_path + "\0").encode("utf-16-le"))
            started = time.monotonic()
            out = guest.moss(root, "boot", "bless", "--esp", str(esp))
            print(f"\n[qemu] moss boot bless on the guest's disks: "
                  f"{time.monotonic() - started:.1f} s")
            return out
        finally:
            variable.unlink(missing_ok=True)
            record.unlink(missing_ok=True)
            with contextlib.suppress(FileNotFoundError):
                record.parent.rmdir()


def test_deferred_kernel_blessed_by_moss_boot_bless_stays_for_three_boots(
    packages: Packages, machines: MachineMaker, tmp_path: Path
) -> None:
    require_loop_mounts()
    cloud = guest.kernel_package(tmp_path / "pkg", packages.cloud, release=2, efivarfs=True)
    root = build_root(tmp_path / "root", [packages.base()])
    guest.moss(root, "install", "--defer", str(cloud))
    assert guest.state_id(root) == 1
    tried = f"serpentos-{packages.cloud_kver}-2+2-1.conf"
    plain = f"serpentos-{packages.cloud_kver}-2.conf"

    # boot 1 runs the pending state: systemd-boot counted a try and says which entry it was
    boot, machine = boot_once(machines, root, tmp_path / "vm", "pending state, first try")
    images = machine.images
    assert (boot.one("stateid"), boot.one("uname")) == ("2", packages.cloud_kver)
    record = pivot_of(boot)
    assert (record["result"], record["previous"], record["active"]) == ("activated", 1, 2)
    assert boot.one("bootcountpath") == f"\\loader\\entries\\{tried}"
    # without a blessing this entry has two tries left, then falls back (the fallback test)
    assert tried in esp_entries(images)

    blessed = bless_on_the_guests_disks(images, tmp_path / "mnt", boot.one("pivot"),
                                        boot.one("bootcountpath"))
    assert blessed.strip() == f"Blessed {tried}"
    assert esp_entries(images) == sorted([f"serpentos-{packages.kver}-1.conf", plain])

    for n in (2, 3, 4):
        again = boot_again(machines, images, tmp_path / "vm", f"blessed state, boot {n}")
        assert (again.one("stateid"), again.one("uname")) == ("2", packages.cloud_kver)
        assert "moss.fstx=2" in again.one("cmdline").split()
        assert pivot_of(again)["result"] == "already-active"
        assert "bootcountpath" not in again.values  # no counter: systemd-boot counts nothing
    assert not any("+" in name for name in esp_entries(images))
    assert plain in esp_entries(images)
    assert guest.read_var(images.vars, "LoaderEntryLastBooted") == plain
