"""The sticky boot menu choice in real firmware: OVMF + systemd-boot 252 + an ESP from sync.

The kernels are random bytes, so systemd-boot fails to start them and prints
``Error loading \\EFI\\serpentos\\<kver>\\vmlinuz``: each state has its own kernel
version, so that line names the entry systemd-boot chose.  The EFI variable moss
writes into a directory (``BootConfig.efivars``) is put into a copy of OVMF's
variable store with ``virt-fw-vars`` (PyPI ``virt-firmware``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import boot
from boot.discovery import efivars
from tests.boot.test_boot_sync import make_state, root

__all__ = ["root"]  # the fixture, shared with the sync tests

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}

pytestmark = pytest.mark.slow


def virt_fw_vars() -> str:
    beside_python = Path(sys.executable).parent / "virt-fw-vars"
    found = str(beside_python) if beside_python.is_file() else shutil.which("virt-fw-vars")
    missing = [t for t in ("qemu-system-x86_64", "mkfs.vfat", "mcopy") if not shutil.which(t)]
    if not found:
        missing.append("virt-fw-vars (pip install virt-firmware)")
    if not OVMF_CODE.is_file():
        missing.append(str(OVMF_CODE))
    if missing:
        pytest.skip("firmware boot needs " + ", ".join(missing))
    assert found is not None
    return found


def esp_image(espdir: Path, image: Path) -> None:
    subprocess.run(["mkfs.vfat", "-C", "-n", "ESP", str(image), "33792"],
                   check=True, capture_output=True)
    for d in sorted(p for p in espdir.rglob("*") if p.is_dir()):
        subprocess.run(["mmd", "-i", str(image), f"::/{d.relative_to(espdir)}"],
                       check=True, capture_output=True, env=MTOOLS)
    for f in sorted(p for p in espdir.rglob("*") if p.is_file()):
        subprocess.run(["mcopy", "-i", str(image), str(f), f"::/{f.relative_to(espdir)}"],
                       check=True, capture_output=True, env=MTOOLS)


def var_store(tool: str, vars_dir: Path, out: Path) -> None:
    variables = [
        {"name": f.name[:-37], "guid": f.name[-36:], "attr": 7, "data": f.read_bytes()[4:].hex()}
        for f in sorted(vars_dir.iterdir())
    ]
    spec = out.with_suffix(".json")
    spec.write_text(json.dumps({"version": 2, "variables": variables}))
    subprocess.run([tool, "-i", str(OVMF_VARS), "-o", str(out), "--set-json", str(spec)],
                   check=True, capture_output=True)


def last_booted(tool: str, store: Path) -> str:
    dump = store.with_suffix(".after.json")
    subprocess.run([tool, "-i", str(store), "--output-json", str(dump)],
                   check=True, capture_output=True)
    for var in json.loads(dump.read_text())["variables"]:
        if var["name"] == "LoaderEntryLastBooted":
            return str(bytes.fromhex(var["data"]).decode("utf-16-le").rstrip("\0"))
    return ""


def boot_chosen(work: list[tuple[Path, Path]], timeout: float = 150) -> list[str]:
    """Start every (esp image, var store) at once; the kernel path each one tried."""
    runs = []
    for image, store in work:
        serial = image.with_suffix(".serial")
        command = [
            "qemu-system-x86_64", "-accel", "tcg", "-M", "q35", "-m", "256", "-nodefaults",
            "-no-user-config", "-display", "none", "-serial", f"file:{serial}",
            "-monitor", "none", "-no-reboot",
            "-drive", f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,unit=1,file={store}",
            "-drive", f"format=raw,file={image}",
        ]
        runs.append((subprocess.Popen(command, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL), serial))
    chosen = [""] * len(runs)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not all(chosen):
            time.sleep(0.5)
            for i, (_proc, serial) in enumerate(runs):
                text = serial.read_bytes().decode("latin-1") if serial.exists() else ""
                marker = text.find("Error loading \\EFI\\serpentos\\")
                if marker >= 0 and not chosen[i]:
                    chosen[i] = text[marker + 29:].split("\\", 1)[0]
                elif "Shell> " in text:
                    chosen[i] = "no boot loader: the firmware shell started"
    finally:
        for proc, _serial in runs:
            proc.terminate()
            proc.wait(timeout=30)
    return chosen


def test_menu_choice_sticks_and_new_state_overrides_it(root: Path, tmp_path: Path) -> None:
    tool = virt_fw_vars()
    states = [make_state(root, i, (f"6.6.{i}",), str(i), bootloader=True) for i in (1, 2, 3)]
    work = []
    for case in ("chosen", "pending"):
        espdir, vars_dir = tmp_path / case / "esp", tmp_path / case / "vars"
        espdir.mkdir(parents=True)
        config = boot.load_config(root, esp=espdir)
        config.efivars, config.timeout = vars_dir, 0
        boot.sync(root, states, 3, None, config)
        if case == "chosen":
            # the user picked state 1 in the menu: systemd-boot stored its file name
            efivars.write(vars_dir, "LoaderEntryLastBooted", "serpentos-6.6.1-1.conf")
        else:
            # later a transaction stages state 4 for the next boot
            staged = make_state(root, 4, ("6.6.4",), "4", bootloader=True)
            boot.sync(root, [*states, staged], 3, 4, config)
            assert efivars.read(vars_dir, "LoaderEntryLastBooted") == "serpentos-6.6.4-4+3.conf"
        image, store = tmp_path / case / "esp.img", tmp_path / case / "vars.fd"
        esp_image(espdir, image)
        var_store(tool, vars_dir, store)
        work.append((image, store))

    assert boot_chosen(work) == ["6.6.1", "6.6.4"]
    # systemd-boot counted the try on the pending entry and kept the saved choice
    listing = subprocess.run(["mdir", "-b", "-i", str(work[1][0]), "::/loader/entries"],
                             check=True, capture_output=True, text=True, env=MTOOLS).stdout
    assert "serpentos-6.6.4-4+2-1.conf" in listing
    assert last_booted(tool, work[0][1]) == "serpentos-6.6.1-1.conf"
