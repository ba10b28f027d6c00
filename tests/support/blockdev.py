"""Real block devices for tests: loop devices and mounts, undone however the test ends."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


@contextlib.contextmanager
def loop_device(image: Path) -> Iterator[str]:
    """``image`` attached to a free loop device; the test is skipped where there is none."""
    try:
        loop = subprocess.run(["losetup", "-f", "--show", str(image)], check=True,
                              capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"no loop device here: {getattr(exc, 'stderr', '') or exc}")
    try:
        yield loop
    finally:
        subprocess.run(["losetup", "-d", loop], check=False)


@contextlib.contextmanager
def mounted(device: str, where: Path, options: str | None = None) -> Iterator[Path]:
    where.mkdir(parents=True, exist_ok=True)
    extra = ["-o", options] if options else []
    subprocess.run(["mount", *extra, device, str(where)], check=True, capture_output=True)
    try:
        yield where
    finally:
        subprocess.run(["umount", str(where)], check=False)


def boot_root(path: Path, boot_conf: str) -> Path:
    """A root whose ``boot.conf`` says ``boot_conf``, with an empty ESP folder at /efi."""
    (path / "etc/moss").mkdir(parents=True)
    (path / "efi").mkdir()
    (path / "etc/moss/boot.conf").write_text(boot_conf)
    return path
