"""A state that went live is not a failure: its triggers run, boot entries come after.

With an ESP that does not exist, every command that makes a state live (or
removes states) still runs the new state's system triggers, then says in one
line that the boot entries were not updated and exits 3; ``moss boot sync``
with a valid ESP repairs the entries.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.boot.test_boot_integration import hello, kernel_package
from tests.support.packages import make_package
from tests.triggers.test_triggers_run import _REASON, BUSYBOX

pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")

BROKEN = "esp = /nonexistent\nefivars = /efivars\nroot = root=/dev/vda rw\n"
FIXED = "esp = /efi\nefivars = /efivars\nroot = root=/dev/vda rw\n"


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                           *args], capture_output=True, text=True, timeout=120, check=False)


def counting_package(workdir: Path, release: int = 1) -> Path:
    """A ``sys.d`` trigger that appends a line to /var/runs each time it runs."""
    trigger = {
        "name": "count", "description": "counts its runs",
        "handlers": {"run": {"run": "/usr/bin/busybox", "args": ["sh", "-c",
                                                                 "echo ran >> /var/runs"]}},
        "paths": {"/usr/share/marker/*": {"handlers": ["run"]}},
    }
    return make_package(workdir, "counted", {
        "bin/busybox": BUSYBOX.read_bytes(),
        "share/moss/triggers/sys.d/count.yaml": yaml.safe_dump(trigger),
        f"share/marker/counted-{release}": "x",
    }, release=release)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/moss").mkdir(parents=True)
    (root / "efivars").mkdir()
    (root / "efi").mkdir()
    (root / "etc/moss/boot.conf").write_text(BROKEN)
    return root


def runs(root: Path) -> int:
    return len((root / "var/runs").read_text().splitlines())


def entries(root: Path) -> dict[str, str]:
    """Boot entry file -> its options line."""
    found = {}
    for entry in sorted((root / "efi/loader/entries").glob("*.conf")):
        for line in entry.read_text().splitlines():
            if line.startswith("options "):
                found[entry.name] = line
    return found


def assert_live_but_entries_stale(proc: subprocess.CompletedProcess[str], what: str) -> None:
    assert proc.returncode == 3, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert lines[0].startswith(f"moss: warning: {what}, but its boot entries were not "
                               "updated: the esp directory "), lines
    assert lines[0].endswith("does not exist; fix that, then run `moss boot sync`"), lines


def repair(root: Path, active: int) -> None:
    (root / "etc/moss/boot.conf").write_text(FIXED)
    proc = moss(root, "boot", "sync")
    assert proc.returncode == 0, proc.stderr
    assert any(f"moss.fstx={active}" in options for options in entries(root).values())


def test_install_goes_live_runs_triggers_and_exits_3(tmp_path: Path, root: Path) -> None:
    proc = moss(root, "install", str(counting_package(tmp_path)),
                str(kernel_package(tmp_path, "6.1.0-1", 1)))
    assert_live_but_entries_stale(proc, "state 1 is active")
    assert (root / "usr/.stateID").read_text() == "1"
    assert runs(root) == 1  # the trigger ran, although boot sync failed
    assert not (root / "efi/loader").exists()
    repair(root, 1)


def test_remove_goes_live_runs_triggers_and_exits_3(tmp_path: Path, root: Path) -> None:
    (root / "etc/moss/boot.conf").write_text(FIXED)
    assert moss(root, "install", str(counting_package(tmp_path)), str(hello(tmp_path, 1)),
                str(kernel_package(tmp_path, "6.1.0-1", 1))).returncode == 0
    (root / "etc/moss/boot.conf").write_text(BROKEN)
    proc = moss(root, "remove", "hello")
    assert_live_but_entries_stale(proc, "state 2 is active")
    assert runs(root) == 2
    assert not any("moss.fstx=2" in o for o in entries(root).values())
    repair(root, 2)


def test_state_activate_goes_live_runs_triggers_and_exits_3(tmp_path: Path,
                                                          root: Path) -> None:
    (root / "etc/moss/boot.conf").write_text(FIXED)
    assert moss(root, "install", str(counting_package(tmp_path)),
                str(kernel_package(tmp_path, "6.1.0-1", 1))).returncode == 0
    assert moss(root, "install", str(hello(tmp_path, 1))).returncode == 0
    assert runs(root) == 2
    (root / "etc/moss/boot.conf").write_text(BROKEN)
    proc = moss(root, "state", "activate", "1")
    assert_live_but_entries_stale(proc, "state 1 is active")
    assert (root / "usr/.stateID").read_text() == "1"
    assert runs(root) == 3
    repair(root, 1)


def test_state_remove_is_done_though_entries_are_not(tmp_path: Path, root: Path) -> None:
    (root / "etc/moss/boot.conf").write_text(FIXED)
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-1", 1))).returncode == 0
    assert moss(root, "install", str(hello(tmp_path, 1))).returncode == 0
    assert any("moss.fstx=1" in o for o in entries(root).values())
    (root / "etc/moss/boot.conf").write_text(BROKEN)
    proc = moss(root, "state", "remove", "1")
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr.startswith("moss: warning: state 1 is removed, but the boot entries "
                                  "were not updated: the esp directory"), proc.stderr
    assert not (root / ".moss/root/1").exists()
    (root / "etc/moss/boot.conf").write_text(FIXED)
    assert moss(root, "boot", "sync").returncode == 0
    assert not any("moss.fstx=1" in o for o in entries(root).values())


ESP_DRIVER = r"""
import json, subprocess, sys
root, package = sys.argv[1:3]
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", f"{root}/efi"], check=True)
proc = subprocess.run([sys.executable, "-m", "moss", "-D", root, "-y", "--quiet", "install",
                       package], capture_output=True, text=True)
print(json.dumps({"status": proc.returncode, "stderr": proc.stderr}))
"""


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs unshare to mount a tmpfs")
def test_a_full_esp_leaves_the_state_live_and_exits_3(tmp_path: Path, root: Path) -> None:
    """The ESP is a 64 KiB tmpfs (in a private mount namespace) that no kernel fits on."""
    (root / "etc/moss/boot.conf").write_text(FIXED)
    kernel = make_package(tmp_path, "linux", {
        "lib/kernel/6.1.0-1/vmlinuz": os.urandom(256 * 1024),
        "lib/kernel/6.1.0-1/10-default.initrd": os.urandom(2048),
        "lib/modules/6.1.0-1/modules.dep": "",
    }, version="6.1.0-1")
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "--", sys.executable, "-c", ESP_DRIVER,
         str(root), str(kernel)], capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == 3, result
    line = result["stderr"]
    assert line.count("\n") == 1 and "Traceback" not in line, line
    assert line.startswith("moss: warning: state 1 is active, but its boot entries were not "
                           f"updated: not enough space on {root / 'efi'}: "), line
    assert line.endswith("; fix that, then run `moss boot sync`\n"), line
    assert (root / "usr/.stateID").read_text() == "1"
    repair(root, 1)  # the real, roomy /efi outside the namespace
