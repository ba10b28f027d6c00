"""SIGKILL at every step of an activation: the machine always has a whole /usr to boot,
and running the agent again (the next boot) finishes the job or repairs it."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from initrd.pivot_sysroot import KILL_POINTS
from tests.support.pivot import run_agent
from tests.support.sysroot import (
    ROOT_LINKS,
    archived_states,
    live_state,
    make_sysroot,
    root_links,
    stray_entries,
)

ACTIVATION_POINTS = tuple(p for p in KILL_POINTS if p != "during-repair")
# The old layout has no archive directory to create: that step never comes.
OLD_LAYOUT_POINTS = tuple(p for p in ACTIVATION_POINTS if p != "after-archive-mkdir")


def _crash_then_boot_again(root: Path, work: Path, point: str) -> None:
    crashed = run_agent(root, "moss.fstx=3", work, kill_at=point)
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr
    # At the instant of the crash: a complete tree of one of the two states boots.
    assert live_state(root) in (1, 3)

    again = run_agent(root, "moss.fstx=3", work)
    assert again.returncode == 0, again.stderr
    assert again.record is not None
    assert again.record["result"] in ("activated", "already-active")
    assert again.record["active"] == 3
    assert live_state(root) == 3
    assert (root / "usr").is_dir() and not (root / "usr").is_symlink()
    assert archived_states(root) == {"1": 1, "2": 2}
    assert root_links(root) == ROOT_LINKS
    assert stray_entries(root) == [".moss"]

    third = run_agent(root, "moss.fstx=3", work)
    assert third.record is not None and third.record["result"] == "already-active"
    assert third.kmsg == ["<6>moss-pivot: state 3 is already active"]


@pytest.mark.parametrize("point", ACTIVATION_POINTS)
def test_crash_during_activation(tmp_path: Path, point: str) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3))
    _crash_then_boot_again(root, tmp_path, point)


@pytest.mark.parametrize("point", OLD_LAYOUT_POINTS)
def test_crash_during_old_layout_conversion(tmp_path: Path, point: str) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3), layout="old-rel")
    _crash_then_boot_again(root, tmp_path, point)


def test_crash_after_exchange_leaves_the_new_state_live(tmp_path: Path) -> None:
    """The exchange is the commit point: after it, the requested state is what boots."""
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3))
    run = run_agent(root, "moss.fstx=3", tmp_path, kill_at="after-exchange")
    assert run.returncode == -signal.SIGKILL
    assert live_state(root) == 3
    assert archived_states(root)["3"] == 1  # state 1's tree, still in the wrong slot


@pytest.mark.parametrize("layout", ["new", "old-abs"])
def test_crash_while_repairing_a_crash(tmp_path: Path, layout: str) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3), layout=layout)
    first = run_agent(root, "moss.fstx=3", tmp_path, kill_at="after-exchange")
    assert first.returncode == -signal.SIGKILL
    second = run_agent(root, "moss.fstx=3", tmp_path, kill_at="during-repair")
    assert second.returncode == -signal.SIGKILL
    assert live_state(root) == 3

    third = run_agent(root, "moss.fstx=3", tmp_path)
    assert third.returncode == 0, third.stderr
    assert third.record is not None and third.record["result"] == "already-active"
    assert archived_states(root) == {"1": 1, "2": 2}
    assert stray_entries(root) == [".moss"]
