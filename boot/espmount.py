"""Mounting an ESP that nothing mounted, for the length of one sync, as real moss does.

On a live system whose ESP is neither mounted nor automounted, moss mounts the
partition itself: at ``/efi`` (or ``/boot/efi``) when that is an empty
directory and not already a mount point, else in a fresh directory under
``/run``; when the work is done it unmounts what it mounted, and only that.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from boot.config import BootConfig
from moss.core.errors import MossError

PLACES = (Path("/efi"), Path("/boot/efi"))


def _free_place() -> tuple[Path, bool]:
    """Where to mount: (directory, whether moss created it and must remove it)."""
    for place in PLACES:
        with contextlib.suppress(OSError):
            if place.is_dir() and not os.path.ismount(place) and not any(place.iterdir()):
                return place, False
    return Path(tempfile.mkdtemp(prefix="moss-esp-", dir="/run")), True


def _run(cmd: list[str]) -> None:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
    except FileNotFoundError:
        raise MossError(f"{cmd[0]} is not installed: cannot reach the ESP") from None
    if proc.returncode != 0:
        raise MossError(f"{' '.join(cmd)} failed: {proc.stderr.strip()}")


@contextlib.contextmanager
def reachable(config: BootConfig) -> Iterator[BootConfig]:
    """``config`` with its $BOOT mounted: as found, or mounted here until the block ends."""
    if config.boot_dir is not None or config.esp_device is None:
        yield config
        return
    place, created = _free_place()
    try:
        _run(["mount", "-t", "vfat", "-o", "umask=0077", config.esp_device, str(place)])
        try:
            yield replace(config, esp=place, esp_device=None)
        finally:
            os.sync()
            _run(["umount", str(place)])
    finally:
        if created:
            with contextlib.suppress(OSError):
                place.rmdir()
