"""The machine's devices and their ``MODALIAS``, from udev or from a recorded list.

udev (through pyudev, which reads ``/sys``) gives every device that announces a
modalias; a recorded list lets an image be built for other hardware, such as a
QEMU guest.  A recorded list has one device per line, either ``MODALIAS`` alone
(what ``cat /sys/bus/*/devices/*/modalias`` prints) or ``SYSPATH MODALIAS``
(what ``moss hardware --record`` writes); ``#`` starts a comment.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError


@dataclass(frozen=True)
class Device:
    syspath: str  # "" when a recorded list does not say
    modalias: str


def udev_devices() -> list[Device]:
    """Every device udev knows with a ``MODALIAS``, sorted by sysfs path."""
    import pyudev  # imported here: only hardware commands need it

    context = pyudev.Context()
    devices = []
    for device in context.list_devices():
        modalias = device.properties.get("MODALIAS")
        if modalias:
            devices.append(Device(device.sys_path, modalias))
    return sorted(devices, key=lambda d: d.syspath)


def read_modalias_file(path: Path) -> list[Device]:
    try:
        text = path.read_text()
    except OSError as exc:
        raise MossError(f"cannot read modalias list {path}: {exc.strerror}") from exc
    devices = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) > 2 or ":" not in words[-1]:
            raise MossError(f"{path}:{number}: expected 'MODALIAS' or 'SYSPATH MODALIAS', "
                            f"got {line.strip()!r}")
        devices.append(Device(words[0] if len(words) == 2 else "", words[-1]))
    return devices


def format_modalias_file(devices: list[Device]) -> str:
    return "".join(f"{d.syspath} {d.modalias}\n" if d.syspath else f"{d.modalias}\n"
                   for d in devices)


def devices_for(modalias_file: Path | None) -> list[Device]:
    """The devices to choose modules for: a recorded list if given, else this machine's."""
    return read_modalias_file(modalias_file) if modalias_file else udev_devices()


def pins_for(modalias_file: Path | None, pins: list[str]) -> list[str]:
    """The user's pins, plus what the running system uses when choosing for this machine."""
    return sorted(set(pins) | set([] if modalias_file else running_system_pins()))


def running_system_pins(proc: Path = Path("/proc")) -> list[str]:
    """What the running system uses beyond its devices: loaded modules, mounted file systems.

    Keeping these when choosing for this machine means turning ``hardware`` on
    never takes away a module that is in use now (dm_crypt, overlay, nf_tables
    load without a modalias), nor the driver of a mounted file system
    (``fs-<type>`` is the alias modprobe uses for it).
    """
    pins = []
    with contextlib.suppress(OSError):  # a kernel without loadable modules has none
        pins += [line.split()[0] for line in (proc / "modules").read_text().splitlines()
                 if line.strip()]
    try:
        mounts = (proc / "self/mounts").read_text().splitlines()
    except OSError:
        mounts = []
    for line in mounts:
        fields = line.split()
        if len(fields) >= 3 and f"fs-{fields[2]}" not in pins:
            pins.append(f"fs-{fields[2]}")
    return sorted(set(pins))
