"""Mounts in the way: a read-only sysroot (remounted read-write for the activation and
back, or kept as is) and a state the kernel will not exchange.

Runs in a private mount namespace on a tmpfs, so nothing outside the test is
remounted.  A mount that cannot be made writable is simulated the way the
kernel refuses it for real: a read-only mount locked by a user namespace.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.pivot import AgentRun, run_agent
from tests.support.sysroot import ROOT_LINKS, archived_states, live_state, make_sysroot, snapshot


def _require(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed")


def _namespaces_work(user: bool) -> bool:
    cmd = ["unshare", "--mount", *(["--user", "--map-root-user"] if user else []), "true"]
    return subprocess.run(cmd, capture_output=True).returncode == 0


def _run_on_readonly_tmpfs(tmp_path: Path, cmdline: str, lock: bool) -> tuple[AgentRun, Path]:
    """Copy a fake sysroot onto a tmpfs mounted read-only, run the agent, copy the result out."""
    _require("unshare")
    if not _namespaces_work(user=lock):
        pytest.skip("needs root and mount namespaces" + (" and user namespaces" if lock else ""))
    template = make_sysroot(tmp_path / "template", active=1, archived=(2,))
    mnt = tmp_path / "mnt"
    out = tmp_path / "after"
    mnt.mkdir()
    wrapper = tmp_path / "wrap.sh"
    agent_prefix = "unshare --user --map-root-user" if lock else ""
    wrapper.write_text(
        "set -e\n"
        f"mount -t tmpfs -o size=16m,nosuid,nodev tmpfs {mnt}\n"
        f"cp -a {template}/. {mnt}/\n"
        f"mount -o remount,ro {mnt}\n"
        "rc=0\n"
        f'{agent_prefix} "$@" || rc=$?\n'
        f"findmnt -no OPTIONS {mnt} > {tmp_path}/options\n"
        f"cp -a {mnt}/. {out}/\n"
        "exit $rc\n"
    )
    run = run_agent(mnt, cmdline, tmp_path, prefix=["unshare", "--mount", "sh", str(wrapper)])
    return run, out


@pytest.mark.root
def test_readonly_sysroot_is_remounted_for_the_activation(tmp_path: Path) -> None:
    run, after = _run_on_readonly_tmpfs(tmp_path, "ro moss.fstx=2", lock=False)

    assert run.returncode == 0, run.stderr
    assert run.record is not None and run.record["result"] == "activated"
    assert live_state(after) == 2
    assert archived_states(after) == {"1": 1}
    assert {name: str((after / name).readlink()) for name in ROOT_LINKS} == ROOT_LINKS
    # Left read-only as the boot expects it (fsck, systemd-remount-fs), flags kept.
    options = (tmp_path / "options").read_text().strip().split(",")
    assert "ro" in options and "nosuid" in options and "nodev" in options


@pytest.mark.root
def test_sysroot_that_stays_readonly_keeps_the_current_state(tmp_path: Path) -> None:
    run, after = _run_on_readonly_tmpfs(tmp_path, "ro moss.fstx=2", lock=True)

    assert run.returncode == 0, run.stderr
    assert run.record is not None
    assert run.record["result"] == "kept-current"
    assert (run.record["requested"], run.record["active"]) == (2, 1)
    assert live_state(after) == 1
    assert snapshot(after) == snapshot(tmp_path / "template")
    assert run.kmsg[-1] == (
        f"<3>moss-pivot: {tmp_path / 'mnt'} is read-only and cannot be remounted read-write;"
        " keeping state 1"
    )
    assert any("cannot remount" in line and line.startswith("<4>") for line in run.kmsg)


@pytest.mark.root
def test_exchange_the_kernel_refuses_is_reported_and_the_current_state_boots(
    tmp_path: Path,
) -> None:
    """State 2 on its own mount: renameat2 across mounts fails (EXDEV) before anything moved."""
    _require("unshare")
    if not _namespaces_work(user=False):
        pytest.skip("needs root and mount namespaces")
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2,))
    slot = root / ".moss/root/2"
    saved = tmp_path / "state2"
    slot.rename(saved)
    slot.mkdir()
    wrapper = tmp_path / "wrap.sh"
    wrapper.write_text(
        "set -e\n"
        f"mount -t tmpfs tmpfs {slot}\n"
        f"cp -a {saved}/. {slot}/\n"
        '"$@"\n'
    )
    before = snapshot(root)

    prefix = ["unshare", "--mount", "sh", str(wrapper)]
    run = run_agent(root, "moss.fstx=2", tmp_path, prefix=prefix)

    assert run.returncode == 0, run.stderr
    assert run.record is not None
    assert (run.record["result"], run.record["requested"], run.record["active"]) == ("failed", 2, 1)
    assert live_state(root) == 1
    assert snapshot(root) == before
    assert run.kmsg[-1].startswith("<3>moss-pivot: activating state 2 failed: [Errno 18]")
    assert run.kmsg[-1].endswith("; booting state 1")
