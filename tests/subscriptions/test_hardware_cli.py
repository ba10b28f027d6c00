"""``moss hardware``: this machine's devices from udev, and a recorded guest's on a real kernel."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from moss.cli import main
from moss.subscriptions.modalias import read_modalias_file
from tests.support.debian_kernel import KernelUnavailable, debian_kernel

DATA = Path(__file__).parents[1] / "data"


def test_record_lists_this_machines_devices_from_sysfs(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not Path("/sys/devices").is_dir():
        pytest.skip("no /sys to enumerate devices from")
    capsys.readouterr()
    assert main(["-D", str(tmp_path), "hardware", "--record"]) == 0
    listing = tmp_path / "machine.modalias"
    listing.write_text(capsys.readouterr().out)
    devices = read_modalias_file(listing)
    assert devices
    for device in devices:
        # What the kernel announces to udev for this device, read straight from sysfs.
        uevent = (Path(device.syspath) / "uevent").read_text().splitlines()
        assert f"MODALIAS={device.modalias}" in uevent


def test_report_on_a_real_kernel_for_a_recorded_guest(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    try:
        kernel = debian_kernel()
    except KernelUnavailable as exc:
        pytest.skip(f"no Debian kernel to report on: {exc}")
    capsys.readouterr()
    assert main(["-D", str(tmp_path), "hardware", "--json", "--modules-dir",
                 str(kernel.moddir), "--modalias-file",
                 str(DATA / "qemu-q35-virtio.modalias")]) == 0
    [report] = json.loads(capsys.readouterr().out)
    on_disk = [p for p in kernel.moddir.rglob("*.ko*") if p.is_file()]
    assert report["module_files"]["total"] == len(on_disk)
    assert report["module_bytes"]["total"] == sum(os.path.getsize(p) for p in on_disk)
    assert "virtio_net" in report["modules"] and "virtio_blk" in report["modules"]
    assert 0 < report["module_files"]["kept"] < report["module_files"]["total"]
    assert report["module_files"]["saved"] == (report["module_files"]["total"]
                                               - report["module_files"]["kept"])


def test_a_bad_modalias_file_is_one_line_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert main(["-D", str(tmp_path), "hardware", "--modalias-file",
                 str(tmp_path / "missing")]) == 1
    assert "cannot read modalias list" in capsys.readouterr().err
