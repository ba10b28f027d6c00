"""Fixtures of the QEMU tests: the guest's packages (built once a session) and machines."""

from __future__ import annotations

import fcntl
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import guest
import pytest
import shards
from machine import OVMF_CODE, Machine
from realsetup import real_guest  # noqa: F401  (the real-OS guest, once a session)

from tests.support.debian_kernel import (
    CACHE,
    DebianKernel,
    KernelUnavailable,
    _fetch,
    debian_kernel,
)
from tests.support.debian_kernel import _describe as describe_kernel

TOOLS = ("qemu-system-x86_64", "mkfs.ext4", "mkfs.vfat", "mcopy", "debugfs", "e2fsck",
         "dracut", "dpkg-deb")
# The second kernel of scenario 3: the cloud flavour of the same Debian release.
CLOUD_META = "linux-image-cloud-amd64"


def _require_tools() -> None:
    missing = [t for t in TOOLS if not shutil.which(t)]
    for path in (OVMF_CODE, guest.OVMF_VARS, guest.SYSTEMD_BOOT, guest.BUSYBOX):
        if not path.is_file():
            missing.append(str(path))
    try:
        guest.virt_fw_vars()
    except FileNotFoundError as exc:
        missing.append(str(exc))
    if missing:
        pytest.skip("QEMU boots need " + ", ".join(missing))


def _cloud_kernel() -> DebianKernel:
    """The cloud kernel, fetched and cached like the default one."""
    out = subprocess.run(["apt-cache", "depends", CLOUD_META], capture_output=True, text=True)
    for line in out.stdout.splitlines():
        words = line.split()
        if len(words) == 2 and words[0] == "Depends:" and words[1][12:13].isdigit():
            final = CACHE / "kernel" / words[1]
            CACHE.mkdir(parents=True, exist_ok=True)
            # the lock debian_kernel() takes: one fetch at a time across test sessions
            with open(CACHE / ".kernel.lock", "w") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                if not (final / ".complete").exists():
                    _fetch(words[1], final)
            return describe_kernel(words[1], final)
    raise KernelUnavailable(f"apt-cache knows no kernel behind {CLOUD_META}")


# The longest test (four boots) takes ~2 minutes under TCG.
TEST_TIMEOUT = 600


@pytest.fixture(autouse=True)
def hard_timeout() -> Iterator[None]:
    """Fail a test that runs too long; the ``machines`` finalizer then kills its QEMU."""

    def expired(signum: int, frame: object) -> None:
        raise TimeoutError(f"the test ran longer than {TEST_TIMEOUT} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(TEST_TIMEOUT)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


@dataclass(frozen=True)
class Packages:
    """The guest's packages as .stone files (see guest.py for what each holds)."""

    busybox: Path
    init: Path
    broken_init: Path
    systemd_boot: Path
    linux: Path
    linux_cloud: Path
    hello: Path
    kver: str
    cloud_kver: str
    cloud: guest.GuestKernel

    def base(self) -> list[Path]:
        return [self.busybox, self.init, self.systemd_boot, self.linux]


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Packages:
    _require_tools()
    try:
        kernel = guest.guest_kernel(debian_kernel())
        cloud = guest.guest_kernel(_cloud_kernel())
    except KernelUnavailable as exc:
        pytest.skip(f"no Debian kernel for the guest: {exc}")
    work = tmp_path_factory.mktemp("packages")
    return Packages(
        busybox=guest.busybox_package(work),
        init=guest.init_package(work),
        broken_init=guest.init_package(work, broken=True),
        systemd_boot=guest.systemd_boot_package(work),
        linux=guest.kernel_package(work, kernel),
        linux_cloud=guest.kernel_package(work, cloud, release=2),
        hello=guest.marker_package(work, "hello"),
        kver=kernel.kver,
        cloud_kver=cloud.kver,
        cloud=cloud,
    )


@pytest.fixture(scope="session")
def linux_with_modules(packages: Packages, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cloud kernel with its whole module tree (~90 MB), for the hardware subscription."""
    work = tmp_path_factory.mktemp("linux-modules")
    return guest.kernel_package(work, packages.cloud, modules=True)


@pytest.fixture
def machines() -> Iterator[Callable[[guest.Images, Path], Machine]]:
    """Makes machines; every QEMU still running at the test's end is killed."""
    made: list[Machine] = []

    def make(images: guest.Images, workdir: Path) -> Machine:
        machine = Machine(images, workdir)
        made.append(machine)
        return machine

    yield make
    for machine in made:
        machine.stop()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--shard", metavar="K/N", default=None,
                     help="run only shard K of N (by expected boot time; scripts/test.sh)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    value = config.getoption("--shard")
    if value is None:
        return
    shard, count = shards.parse(value)
    kept = shards.select(items, shard, count)
    ids = {item.nodeid for item in kept}
    config.hook.pytest_deselected(items=[i for i in items if i.nodeid not in ids])
    items[:] = kept
