"""Fixtures of the real-OS guest: its packages and base disks, built once a session.

The base root is state 1: Debian's ``/usr``, moss, systemd-boot and the kernel
(with the few modules a live moss needs), installed by ``moss -D ROOT`` on the
host; the stones the scenarios install inside the guest lie in
``/var/lib/qemu-guest/stones/``.  Each scenario copies the base disks and
writes its own ``boot.d`` scripts into the copy with ``debugfs``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import guest
import pytest
import realos
import realvm

from tests.support.debian_kernel import DebianKernel, KernelUnavailable, debian_kernel

STONES = "/var/lib/qemu-guest/stones"
# Power-cut instants per run (scenario 4), the 10. Each costs a boot, a verify
# and two transactions: 2-4.5 minutes under TCG on a loaded host.
CUTS = int(os.environ.get("MOSS_QEMU_CUTS", "10"))
BULK_FILES = 1500
# One scenario runs several boots of ~2-4 minutes each under TCG on a loaded host.
REAL_TEST_TIMEOUT = 3000


@dataclass(frozen=True)
class RealGuest:
    disks: realvm.Disks
    kver: str
    cloud_kver: str
    os_id: str
    os_name: str


def _markers(workdir: Path, stones: Path) -> None:
    names = ["hello", "hello2", "hello3", "hello4", *(f"mark{i}" for i in range(CUTS + 3))]
    for name in names:
        shutil.copy(guest.marker_package(workdir, name), stones / f"{name}.stone")
    shutil.copy(service_package(workdir), stones / "svc.stone")
    shutil.copy(bad_boot_package(workdir), stones / "badboot.stone")
    for release in range(2, CUTS + 3):
        shutil.copy(bulk_package(workdir, release), stones / f"bulk-{release}.stone")


SERVICE = """[Unit]
Description=qemu-tests: a unit shipped by a package

[Service]
Type=oneshot
ExecStart=/usr/bin/sh -c 'echo started > /run/moss-hello'
"""

# A system trigger: counts its runs and reloads systemd for the package's new unit.
SYS_TRIGGER = """name: moss-hello
description: reload systemd after a package shipped a unit
handlers:
    count:
        run: /usr/bin/sh
        args: ["-c", "echo ran >> /var/lib/qemu-guest/trigger-runs"]
    reload:
        run: /usr/bin/systemctl
        args: ["daemon-reload"]
paths:
    "/usr/lib/systemd/system/moss-hello.service":
        handlers: [count, reload]
"""


def service_package(workdir: Path) -> Path:
    """``svc``: a systemd unit and a ``sys.d`` trigger that must run after it goes live."""
    return guest._pack(workdir, "svc", {
        "lib/systemd/system/moss-hello.service": SERVICE,
        "share/moss/triggers/sys.d/moss-hello.yaml": SYS_TRIGGER,
    })


def bad_boot_package(workdir: Path) -> Path:
    """``badboot``: a unit ``boot-complete.target`` requires and that fails, so a state
    with it boots but is never blessed (systemd-bless-boot does not run)."""
    unit = ("[Unit]\nDescription=qemu-tests: fails, so boot-complete.target is never reached\n"
            "[Service]\nType=oneshot\nExecStart=/usr/bin/false\n")
    return guest._pack(workdir, "badboot", {"lib/systemd/system/moss-bad.service": unit},
                       links={"lib/systemd/system/boot-complete.target.requires/"
                              "moss-bad.service": "../moss-bad.service"})


def bulk_package(workdir: Path, release: int) -> Path:
    """``bulk``: an update big enough to take seconds in the guest (1500 files, 12 MB).

    Every release changes every file, so each update unpacks, hashes and links them
    all; the content compresses to almost nothing, so the stones stay small.
    """
    files: dict[str, bytes | str] = {
        f"share/bulk/{i // 100}/{i}": (f"bulk {release} {i}\n" * 400).encode()[:8192]
        for i in range(BULK_FILES)
    }
    return guest._pack(workdir, "bulk", files, release=release)


def conftest_cloud_kernel() -> DebianKernel:
    """The cloud flavour, fetched and cached as the busybox tests fetch it."""
    from conftest import _cloud_kernel  # imported late: conftest imports this module

    return _cloud_kernel()


def build_real_guest(work: Path) -> RealGuest:
    """Build the userland (cached), the packages, the root and its disks."""
    for tool in ("mmdebstrap", "sfdisk", "mdir", "depmod"):
        if shutil.which(tool) is None:
            pytest.skip(f"the real-OS guest needs {tool}")
    started = time.monotonic()
    try:
        userland = realos.userland()
        kernel = guest.guest_kernel(debian_kernel())
        cloud = guest.guest_kernel(conftest_cloud_kernel())
    except (realos.UserlandUnavailable, KernelUnavailable) as exc:
        pytest.skip(f"no Debian userland for the real-OS guest: {exc}")
    built = time.monotonic()
    packages = work / "packages"
    packages.mkdir()
    kernel = realvm.module_subset(kernel, work / "modules")
    # Debian's systemd-boot package brings the boot loader moss installs on the ESP
    base = [userland.stone, realos.moss_package(packages), bulk_package(packages, 1),
            guest.kernel_package(packages, kernel, modules=True)]
    root = guest.new_root(work / "root", 0)
    realos.unpack_skeleton(userland, root)
    guest.moss(root, "install", *map(str, base))
    stones = root / STONES.lstrip("/")
    stones.mkdir(parents=True)
    _markers(packages, stones)
    cloud = realvm.module_subset(cloud, work / "cloud-modules")
    shutil.copy(guest.kernel_package(packages, cloud, release=2, modules=True),
                stones / "linux-cloud.stone")
    realvm.install_harness(root, {})
    # the ESP's content goes to its own disk; /efi stays an empty mount point
    disks = realvm.make_disks(root, work / "disks")
    release = dict(line.split("=", 1) for line in
                   (root / "etc/os-release").read_text().splitlines() if "=" in line)
    shutil.rmtree(root)
    print(f"\n[realos] userland {built - started:.0f} s (cached or built), root and disks "
          f"{time.monotonic() - built:.0f} s")
    return RealGuest(disks, kernel.kver, cloud.kver, release["ID"].strip('"'),
                     release["NAME"].strip('"'))


def write_boot_scripts(disks: realvm.Disks, scripts: dict[int, str], work: Path) -> None:
    """Put ``boot.d/<n>`` into the root image (the harness runs script n at boot n)."""
    work.mkdir(parents=True, exist_ok=True)
    commands = ["cd /etc/qemu-guest/boot.d"]
    for number, text in scripts.items():
        (work / f"boot-{number}").write_text(text)
        commands.append(f"write {work / f'boot-{number}'} {number}")
    (work / "debugfs.cmds").write_text("\n".join(commands) + "\n")
    realvm.run(["debugfs", "-w", "-f", str(work / "debugfs.cmds"), str(disks.root)])


def write_readonly_conf(disks: realvm.Disks, text: str, work: Path) -> None:
    """Replace the guest's ``/etc/moss/readonly.conf`` (``enabled = yes`` as built)."""
    work.mkdir(parents=True, exist_ok=True)
    (work / "readonly.conf").write_text(text)
    (work / "debugfs-readonly.cmds").write_text(
        f"cd /etc/moss\nrm readonly.conf\nwrite {work / 'readonly.conf'} readonly.conf\n")
    realvm.run(["debugfs", "-w", "-f", str(work / "debugfs-readonly.cmds"), str(disks.root)])


def read_report(disks: realvm.Disks, boot: int) -> list[str]:
    """``/var/lib/qemu-guest/report-<boot>`` from the root image (the guest's own record)."""
    return guest.read_root_file(disks.root, f"/var/lib/qemu-guest/report-{boot}").splitlines()


@pytest.fixture(scope="session")
def real_guest(tmp_path_factory: pytest.TempPathFactory) -> RealGuest:
    return build_real_guest(tmp_path_factory.mktemp("realos"))


@pytest.fixture
def hard_timeout() -> Iterator[None]:
    """The real-OS scenarios' own, longer limit (replaces conftest's for these tests)."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"the test ran longer than {REAL_TEST_TIMEOUT} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(REAL_TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


def e2fsck_ok(disks: realvm.Disks) -> str:
    """fsck's verdict on the root after the guest: journal replayed, then checked read-only."""
    subprocess.run(["e2fsck", "-fy", "-E", "journal_only", str(disks.root)], capture_output=True)
    proc = subprocess.run(["e2fsck", "-fn", str(disks.root)], capture_output=True, text=True)
    return proc.stdout if proc.returncode else ""
