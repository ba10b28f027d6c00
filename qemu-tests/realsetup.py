"""Fixtures of the real-OS guest: its packages and base machine, built once a session.

The base root is state 1: Debian's ``/usr``, moss, systemd-boot and the kernel
(with the few modules a live moss needs), installed by ``moss -D ROOT`` on the
host, which signs systemd-boot and the kernel's unified image with the session's
db key; the stones the scenarios install inside the guest lie in
``/var/lib/qemu-stones/``.  The root is then encrypted (``cryptdisk.py``) and the
installer's boot enrolls the TPM and lets the live moss write the entries.  Each
scenario copies the machine (disks, VARS, TPM state) and gets its own scenario
disk with its ``boot.d`` scripts.
"""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cryptdisk
import firmware
import guest
import pytest
import realos
import realvm
from realboots import boot, one, succeeded

from tests.support.debian_kernel import DebianKernel, KernelUnavailable, debian_kernel

STONES = "/var/lib/qemu-stones"
# Power-cut instants per run (scenario 4): issue 24 asks at least 5, issue 15 had 10.
# Each costs a boot, a verify (a re-hash of the store) and two transactions: 4-7 minutes
# under TCG on a loaded host, so CI runs 6 and MOSS_QEMU_CUTS=10 the full count.
CUTS = int(os.environ.get("MOSS_QEMU_CUTS", "6"))
BULK_FILES = 1500
# One scenario runs several boots of ~2-4 minutes each under TCG on a loaded host.
REAL_TEST_TIMEOUT = 3000


@dataclass(frozen=True)
class RealGuest:
    disks: realvm.Disks
    stack: cryptdisk.Stack
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


# moss -D ROOT on the host: the ESP and the EFI variables are folders of ROOT; no root:
# the installer's first boot gives it, then the live moss works it out.
HOST_BOOT_CONF = """
esp = /efi
efivars = /efivars
timeout = 0
keep = 5
secureboot-key = /etc/moss/keys/db.key
secureboot-cert = /etc/moss/keys/db.crt
"""


def build_real_guest(work: Path, kind: str = "btrfs") -> RealGuest:
    """Build the userland (cached), the packages, the root, its machine; then install."""
    for tool in ("mmdebstrap", "sfdisk", "mdir", "depmod", "cryptsetup", "mkfs.btrfs",
                 "lvcreate", "losetup"):
        if shutil.which(tool) is None:
            pytest.skip(f"the real-OS guest needs {tool} (scripts/setup.sh installs it)")
    missing = firmware.unavailable()
    if missing:
        pytest.skip(f"the real-OS guest's Secure Boot machine needs {missing}")
    started = time.monotonic()
    try:
        userland = realos.userland()
        kernel = guest.guest_kernel(debian_kernel(), guest.ENCRYPTED)
        cloud = guest.guest_kernel(conftest_cloud_kernel(), guest.ENCRYPTED)
    except (realos.UserlandUnavailable, KernelUnavailable) as exc:
        pytest.skip(f"no Debian userland for the real-OS guest: {exc}")
    built = time.monotonic()
    packages = work / "packages"
    packages.mkdir()
    kernel = realvm.module_subset(kernel, work / "modules")
    # Debian's systemd-boot package brings the boot loader moss installs on the ESP
    base = [userland.stone, realos.moss_package(packages), bulk_package(packages, 1),
            guest.kernel_package(packages, kernel, modules=True)]
    keys = firmware.make_keys(work / "keys")
    root = guest.new_root(work / "root", 0)
    realos.unpack_skeleton(userland, root)
    realvm.install_harness(root, keys)
    live_conf = (root / "etc/moss/boot.conf").read_text()
    (root / "etc/moss/boot.conf").write_text(HOST_BOOT_CONF)
    guest.moss(root, "install", *map(str, base))
    (root / "etc/moss/boot.conf").write_text(live_conf)
    stones = root / STONES.lstrip("/")
    stones.mkdir(parents=True)
    _markers(packages, stones)
    cloud = realvm.module_subset(cloud, work / "cloud-modules")
    shutil.copy(guest.kernel_package(packages, cloud, release=2, modules=True),
                stones / "linux-cloud.stone")
    disks, stack = realvm.make_disks(root, work / "disks", kind, keys)
    release = dict(line.split("=", 1) for line in
                   (root / "etc/os-release").read_text().splitlines() if "=" in line)
    shutil.rmtree(root)
    print(f"\n[realos] userland {built - started:.0f} s (cached or built), root and disks "
          f"({kind}) {time.monotonic() - built:.0f} s")
    disks = install(disks, stack, work / "install")
    return RealGuest(disks, stack, kernel.kver, cloud.kver, release["ID"].strip('"'),
                     release["NAME"].strip('"'))


def install(disks: realvm.Disks, stack: cryptdisk.Stack, work: Path) -> realvm.Disks:
    """The installer's first boot: its own entry (the root's arguments and the key file,
    as an installer writes them), then the TPM enrolled and moss's own entries; the
    machine without the key disk."""
    entries = [e for e in realvm.esp_listing(disks, "loader/entries") if e.endswith(".conf")]
    assert len(entries) == 1, entries
    lines = realvm.esp_file(disks, f"loader/entries/{entries[0]}").splitlines()
    entry = "\n".join(
        f"options {stack.installer_arguments()} qemu.install {ln.removeprefix('options ')}"
        if ln.startswith("options ") else
        "title installer" if ln.startswith("title ") else ln
        for ln in lines) + "\n"
    realvm.esp_put(disks, "loader/entries/installer.conf", entry.encode(), work)
    realvm.set_vars(disks.vars, {"LoaderEntryOneShot": "installer.conf"})
    values = boot(disks, work, "installer")
    succeeded(values, "da")
    succeeded(values, "enroll")
    succeeded(values, "sync")
    assert one(values, "secureboot") == "1", values.get("secureboot")
    after = realvm.Disks(disks.root, disks.esp, disks.vars, disks.tpm, disks.scenario)
    assert "installer.conf" not in realvm.esp_listing(after, "loader/entries")
    return after


def write_boot_scripts(disks: realvm.Disks, scripts: dict[int, str], work: Path) -> None:
    """The scenario disk with ``boot.d/<n>`` (the harness runs script n at boot n)."""
    realvm.write_scenario(disks, scripts, work)


# A boot that turns the read-only OS off for the boots after it (README, "A read-only
# OS"): the agent reads the setting in the initramfs, before any scenario script runs.
READONLY_OFF = """
echo "enabled = no" > /etc/moss/readonly.conf
say readonly-conf "$(cat /etc/moss/readonly.conf)"
"""


def read_report(disks: realvm.Disks, boot: int) -> list[str]:
    """``report-<boot>`` from the scenario disk (the guest's own record)."""
    return realvm.scenario_file(disks, f"report-{boot}").splitlines()


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
