"""One QEMU machine: OVMF + systemd-boot from the ESP image, a virtio root disk, TCG.

The serial console goes to a file the test polls; QMP (``qemu.qmp``) presses keys
in the boot menu and quits.  A machine that powers off ends QEMU by itself; one
whose kernel panics resets (``panic=1`` on the command line, no ``-no-reboot``),
so a single machine sees every boot of a boot-counting sequence, with the same
VARS store, as a real computer would.
"""

from __future__ import annotations

import asyncio
import ctypes
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from guest import MARK, Images
from qemu.qmp import QMPClient

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
KERNEL_START = "Linux version "


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In QEMU's child before exec: killed when the test process dies, however it dies.

    A shard that scripts/test.sh stops, or a pytest killed outright, runs no
    finalizer; without this its guest (one waits in ``sleep 3600`` for its power
    cut) would keep a core busy for an hour.
    """
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@dataclass
class Boot:
    """What one boot reported: the ``GUEST key=value`` lines, repeated keys in order."""

    seconds: float
    values: dict[str, list[str]] = field(default_factory=dict)

    def one(self, key: str) -> str:
        found = self.values.get(key, [])
        assert len(found) == 1, f"expected one GUEST {key}= line, got {found}"
        return found[0]


class Machine:
    def __init__(self, images: Images, workdir: Path, memory: int = 512) -> None:
        self.serial = workdir / "serial.log"
        # A unix socket's path must fit in 108 bytes (sun_path); a scenario's work
        # folder under pytest's base temp can be longer, and QEMU then refuses to start.
        self.qmp_socket = Path(tempfile.mkdtemp(prefix="moss-qmp-")) / "qmp.sock"
        self.images = images
        self.command = [
            "qemu-system-x86_64", "-accel", "tcg", "-M", "q35", "-m", str(memory),
            "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", f"file:{self.serial}", "-monitor", "none",
            "-qmp", f"unix:{self.qmp_socket},server=on,wait=off",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={images.vars}",
            # The ESP on the chipset's AHCI, the root on virtio: the guest's /dev/vda.
            "-drive", f"if=ide,format=raw,file={images.esp}",
            "-drive", f"if=virtio,format=raw,file={images.root}",
        ]
        self.proc: subprocess.Popen[bytes] | None = None
        self.started = 0.0
        # wall-clock time at which each kernel start was first seen in the log
        self.kernel_seen: list[float] = []

    def start(self) -> None:
        self.serial.unlink(missing_ok=True)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(self.command, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)

    def stop(self) -> None:
        """Kill QEMU if it still runs; safe to call twice (the fixture's finalizer)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        shutil.rmtree(self.qmp_socket.parent, ignore_errors=True)

    def qemu_output(self) -> str:
        """What QEMU itself printed (its errors), once it has ended."""
        if self.proc is None or self.proc.poll() is None or self.proc.stdout is None:
            return ""
        return self.proc.stdout.read().decode(errors="replace")

    def log(self) -> str:
        return self.serial.read_bytes().decode("latin-1") if self.serial.exists() else ""

    def wait_for(self, pattern: str, timeout: float, count: int = 1) -> str:
        """The log once ``pattern`` (a regex) occurs ``count`` times; fails on QEMU's exit."""
        deadline = time.monotonic() + timeout
        while True:
            text = self.log()
            starts = text.count(KERNEL_START)
            while len(self.kernel_seen) < starts:
                self.kernel_seen.append(time.monotonic())
            if len(re.findall(pattern, text)) >= count:
                return text
            assert self.proc is not None
            if self.proc.poll() is not None:
                output = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise AssertionError(f"QEMU ended ({self.proc.returncode}) before {pattern!r}:"
                                     f"\n{output}\n--- serial:\n{text[-4000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {pattern!r} within {timeout:.0f} s;"
                                     f" serial:\n{text[-4000:]}")
            time.sleep(0.2)

    def wait_poweroff(self, timeout: float) -> float:
        """Seconds since start once the guest powered off (QEMU exits by itself)."""
        assert self.proc is not None
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"QEMU still runs after {timeout:.0f} s; serial:\n"
                                 f"{self.log()[-4000:]}") from None
        return time.monotonic() - self.started

    def qmp(self, *commands: tuple[str, dict[str, object] | None]) -> None:
        """Send QMP commands in one connection (QEMU accepts one client at a time)."""

        async def run() -> None:
            client = QMPClient("qemu-tests")
            await client.connect(str(self.qmp_socket))
            try:
                for name, arguments in commands:
                    await client.execute(name, arguments)
            finally:
                await client.disconnect()

        asyncio.run(run())

    def press(self, *keys: str) -> None:
        """Press and release each key (QEMU ``qcode`` names: ``down``, ``ret``...)."""
        for key in keys:
            self.qmp(("send-key", {"keys": [{"type": "qcode", "data": key}]}))
            time.sleep(0.5)


def reports(log: str) -> list[dict[str, list[str]]]:
    """The ``GUEST`` lines of each boot that reached init, in boot order."""
    boots: list[dict[str, list[str]]] = []
    for chunk in log.split(KERNEL_START)[1:]:
        values: dict[str, list[str]] = {}
        for line in chunk.splitlines():
            at = line.find(MARK)
            if at < 0:
                continue
            key, _, value = line[at + len(MARK):].rstrip("\r").partition("=")
            values.setdefault(key, []).append(value)
        boots.append(values)
    return boots


def kernel_lines(log: str, needle: str) -> list[str]:
    """Kernel log lines (with their ``[ seconds]`` stamp) that contain ``needle``."""
    return [ln.rstrip("\r") for ln in log.splitlines() if needle in ln and "GUEST" not in ln]
