"""systemd-boot's EFI variables as files: format, and the immutable flag efivarfs sets."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from boot.discovery import efivars


def test_variable_format_round_trip(tmp_path: Path) -> None:
    efivars.write(tmp_path, "LoaderEntryLastBooted", "serpentos-6.6.7-3+3.conf")
    path = tmp_path / "LoaderEntryLastBooted-4a67b082-0a4c-41cf-b6c7-440b29bb8c4f"
    assert path.read_bytes() == b"\x07\0\0\0" + "serpentos-6.6.7-3+3.conf\0".encode("utf-16-le")
    assert efivars.read(tmp_path, "LoaderEntryLastBooted") == "serpentos-6.6.7-3+3.conf"
    assert efivars.read(tmp_path, "LoaderEntryOneShot") is None


def test_immutable_variable_is_replaced(tmp_path: Path) -> None:
    if shutil.which("chattr") is None:
        pytest.skip("chattr (e2fsprogs) is not installed")
    efivars.write(tmp_path, "LoaderEntryLastBooted", "old.conf")
    path = efivars.var_path(tmp_path, "LoaderEntryLastBooted")
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot set the immutable flag here: {made.stderr.strip()}")
    try:
        efivars.write(tmp_path, "LoaderEntryLastBooted", "new.conf")
        assert efivars.read(tmp_path, "LoaderEntryLastBooted") == "new.conf"
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=False)
