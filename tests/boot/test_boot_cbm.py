"""The clr-boot-manager backend: the staged layout and the call to the tool."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

import boot
from boot.config import BootConfig
from moss.core.errors import MossError
from tests.boot.test_boot_sync import make_state, root

__all__ = ["root"]  # the fixture, shared with the sync tests

# A stand-in for the absent tool (not packaged in Debian): it records its argv
# and the kernel folder it was pointed at, as the real one would read it.
FAKE_TOOL = """#!/bin/sh
out="$RECORD"
path=""
for arg in "$@"; do
  case "$arg" in --path=*) path="${arg#--path=}";; esac
done
{
  printf '%s\\n' "$*"
  ls "$path/usr/lib/kernel"
  readlink "$path/usr/lib/kernel/default-desktop"
} > "$out"
exit ${FAKE_EXIT:-0}
"""


def cbm_config(root: Path) -> BootConfig:
    (root / "etc" / "moss" / "boot.conf").write_text(
        "backend = cbm\nroot = root=UUID=1234-abcd rw\n"
    )
    return boot.load_config(root)


def kernel_folder(root: Path) -> Path:
    return root / ".moss" / "boot" / "clr-boot-manager" / "usr" / "lib" / "kernel"


@pytest.fixture
def fake_tool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tool = bindir / "clr-boot-manager"
    tool.write_text(FAKE_TOOL)
    tool.chmod(0o755)
    record = tmp_path / "record"
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("RECORD", str(record))
    return record


def test_layout_clr_boot_manager_reads(root: Path) -> None:
    states = [make_state(root, 1), make_state(root, 2, ("6.7.1",))]
    report = boot.sync(root, states, 2, None, cbm_config(root))

    kdir = kernel_folder(root)
    assert sorted(p.name for p in kdir.iterdir()) == [
        "cmdline-6.6.7-1.desktop",
        "cmdline-6.7.1-2.desktop",
        "default-desktop",
        "initrd-org.clearlinux.desktop.6.6.7-1",
        "initrd-org.clearlinux.desktop.6.7.1-2",
        "org.clearlinux.desktop.6.6.7-1",
        "org.clearlinux.desktop.6.7.1-2",
    ]
    assert os.readlink(kdir / "default-desktop") == "org.clearlinux.desktop.6.7.1-2"
    assert report.default == "org.clearlinux.desktop.6.7.1-2"
    assert (kdir / "cmdline-6.6.7-1.desktop").read_text() == (
        "root=UUID=1234-abcd rw moss.fstx=1 quiet\n"
    )
    image = states[1].usr / "lib" / "kernel" / "6.7.1" / "vmlinuz"
    assert (kdir / "org.clearlinux.desktop.6.7.1-2").read_bytes() == image.read_bytes()
    assert (kdir / "org.clearlinux.desktop.6.7.1-2").stat().st_ino == image.stat().st_ino
    assert report.commands == []  # the tool is not installed here


def test_tool_called_with_staging_root(root: Path, fake_tool: Path) -> None:
    states = [make_state(root, 1), make_state(root, 2)]
    report = boot.sync(root, states, 1, 2, cbm_config(root))

    stage = root / ".moss" / "boot" / "clr-boot-manager"
    argv, *listing = fake_tool.read_text().splitlines()
    assert argv == f"update --path={stage}"
    assert "org.clearlinux.desktop.6.6.7-2" in listing
    assert listing[-1] == "org.clearlinux.desktop.6.6.7-2"  # the pending state is default
    assert report.commands[0][1:] == ["update", f"--path={stage}"]


def test_tool_failure_is_a_clear_error(
    root: Path, fake_tool: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_EXIT", "3")
    with pytest.raises(MossError, match=r"clr-boot-manager update failed \(3\)"):
        boot.sync(root, [make_state(root, 1)], 1, None, cbm_config(root))


def test_old_states_leave_the_staging(root: Path) -> None:
    config = cbm_config(root)
    states = [make_state(root, i) for i in (1, 2, 3)]
    boot.sync(root, states, 3, None, config)
    before = {p.name: p.stat().st_mtime_ns for p in kernel_folder(root).iterdir()}
    again = boot.sync(root, states, 3, None, config)
    assert not again.changed
    assert {p.name: p.stat().st_mtime_ns for p in kernel_folder(root).iterdir()} == before

    boot.sync(root, states[1:], 3, None, config)
    names = sorted(p.name for p in kernel_folder(root).iterdir())
    assert not [n for n in names if n.endswith("-1") or n.endswith("-1.desktop")]
    assert "org.clearlinux.desktop.6.6.7-2" in names
    assert json.dumps(again.to_json())


def test_kernel_type_is_letters_only(root: Path) -> None:
    state = make_state(root, 5, ("6.6.7-242.lts2",))
    (state.usr / "lib" / "kernel" / "6.6.7-242.lts2" / "boot.json").unlink()
    other = make_state(root, 6, ("6.8.0",))
    (other.usr / "lib" / "kernel" / "6.8.0" / "boot.json").unlink()
    boot.sync(root, [state, other], 6, None, cbm_config(root))
    names = sorted(p.name for p in kernel_folder(root).iterdir())
    assert "org.clearlinux.lts.6.6.7-5" in names
    assert "org.clearlinux.default.6.8.0-6" in names
    assert os.readlink(kernel_folder(root) / "default-default") == "org.clearlinux.default.6.8.0-6"
