"""The pivot agent against fake sysroots: every outcome the boot can meet.

Each test runs ``python3 -I -S initrd/pivot.py`` as the initramfs does and
checks what a user would: which state boots, where the other trees went, the
record moss reads after boot, and the line in the kernel log.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.support.pivot import run_agent
from tests.support.sysroot import (
    ROOT_LINKS,
    archived_states,
    live_state,
    make_sysroot,
    make_tree,
    root_links,
    snapshot,
    stray_entries,
)

RECORD_KEYS = {"requested", "previous", "active", "result", "reason", "elapsed_ms", "time"}


def assert_activated(root: Path, new: int, old: int, others: tuple[int, ...] = ()) -> None:
    assert (root / "usr").is_dir() and not (root / "usr").is_symlink()
    assert live_state(root) == new
    assert archived_states(root) == {str(s): s for s in sorted((old, *others), key=str)}
    assert root_links(root) == ROOT_LINKS
    assert stray_entries(root) == [".moss"]


def test_activates_an_archived_state_persistently(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3))
    run = run_agent(root, "root=/dev/vda rw moss.fstx=3 quiet", tmp_path)

    assert run.returncode == 0, run.stderr
    assert_activated(root, new=3, old=1, others=(2,))
    assert run.record is not None and set(run.record) == RECORD_KEYS
    assert run.record["requested"] == 3
    assert run.record["previous"] == 1
    assert run.record["active"] == 3
    assert run.record["result"] == "activated"
    assert isinstance(run.record["elapsed_ms"], float) and run.record["elapsed_ms"] > 0
    assert run.record["time"] > 1.7e9
    assert run.kmsg == ["<6>moss-pivot: activated state 3 (was state 1)"]
    assert run.record["reason"] == "activated state 3 (was state 1)"


def test_activation_recreates_missing_root_links(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot")
    for name in ("lib64", "lib32"):
        (root / name).unlink()
    (root / "sbin").unlink()
    os.symlink("/usr/sbin", root / "sbin")

    run = run_agent(root, "moss.fstx=2", tmp_path)

    assert run.returncode == 0, run.stderr
    assert_activated(root, new=2, old=1, others=(3,))


def test_rolling_back_and_forth_keeps_every_tree(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=3, archived=(1, 2))
    for wanted, before in ((1, 3), (3, 1), (2, 3)):
        run = run_agent(root, f"moss.fstx={wanted}", tmp_path)
        assert run.record is not None and run.record["result"] == "activated"
        assert run.record["previous"] == before
    assert_activated(root, new=2, old=3, others=(1,))


def test_no_request_changes_nothing(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot")
    before = snapshot(root)
    run = run_agent(root, "root=/dev/vda ro quiet moss.fstxx=2 xmoss.fstx=2", tmp_path)

    assert run.returncode == 0, run.stderr
    assert snapshot(root) == before
    assert run.record is not None
    assert run.record["result"] == "no-request"
    assert (run.record["requested"], run.record["previous"], run.record["active"]) == (None, 1, 1)
    assert run.kmsg == [
        "<6>moss-pivot: no moss.fstx on the kernel command line; booting state 1"
    ]


def test_requesting_the_active_state_changes_nothing(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=2, archived=(1,))
    before = snapshot(root)
    run = run_agent(root, "moss.fstx=2", tmp_path)

    assert run.returncode == 0
    assert snapshot(root) == before
    assert run.record is not None and run.record["result"] == "already-active"
    assert run.kmsg == ["<6>moss-pivot: state 2 is already active"]


@pytest.mark.parametrize(
    ("arg", "shown"),
    [
        ("moss.fstx=abc", "'abc'"),
        ("moss.fstx=", "''"),
        ("moss.fstx", "''"),
        ("moss.fstx=-1", "'-1'"),
        ("moss.fstx=+2", "'+2'"),
        ("moss.fstx=2.0", "'2.0'"),
        ("moss.fstx=²", "'²'"),
        ("moss.fstx=2 moss.fstx=x", "'x'"),
    ],
)
def test_garbage_values_keep_the_current_state(tmp_path: Path, arg: str, shown: str) -> None:
    root = make_sysroot(tmp_path / "sysroot")
    before = snapshot(root)
    run = run_agent(root, f"ro {arg} quiet", tmp_path)

    assert run.returncode == 0
    assert snapshot(root) == before
    assert run.record is not None
    assert run.record["result"] == "kept-current"
    assert run.record["requested"] is None and run.record["active"] == 1
    assert run.kmsg == [
        f"<3>moss-pivot: moss.fstx={shown} is not a state id; keeping state 1"
    ]


def test_the_last_value_wins(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot")
    run = run_agent(root, "moss.fstx=abc moss.fstx=2 moss.fstx=3", tmp_path)
    assert run.record is not None and run.record["requested"] == 3
    assert_activated(root, new=3, old=1, others=(2,))


def test_quoted_value(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot")
    run = run_agent(root, 'init=/sbin/init "moss.fstx=2" x="a b"', tmp_path)
    assert run.record is not None and run.record["result"] == "activated"
    assert live_state(root) == 2


def _damage_missing(root: Path) -> None:
    pass  # state 7 was never built


def _damage_incomplete(root: Path) -> None:
    (root / ".moss/root/7/usr/.stateID").unlink()


def _damage_mismatched(root: Path) -> None:
    # Claims the live id, so it cannot be a crash leftover to move (see the repair test).
    (root / ".moss/root/7/usr/.stateID").write_text("1")


def _damage_not_a_tree(root: Path) -> None:
    shutil.rmtree(root / ".moss/root/7/usr")
    (root / ".moss/root/7/usr").write_text("not a tree")


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (_damage_missing, "state 7 is missing (no .moss/root/7/usr)"),
        (_damage_incomplete, "state 7 is incomplete (.moss/root/7/usr has no .stateID)"),
        (_damage_mismatched, "state 7 is mismatched (its .stateID reads 1)"),
        (_damage_not_a_tree, "state 7 is damaged (.moss/root/7/usr is not a directory)"),
    ],
)
def test_unusable_state_keeps_the_current_one(
    tmp_path: Path, damage: Callable[[Path], None], why: str
) -> None:
    archived = () if damage is _damage_missing else (7,)
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=archived)
    damage(root)
    before = snapshot(root)
    run = run_agent(root, "moss.fstx=7", tmp_path)

    assert run.returncode == 0
    assert snapshot(root) == before
    assert run.record is not None
    assert run.record["result"] == "kept-current"
    assert (run.record["requested"], run.record["active"]) == (7, 1)
    assert run.kmsg == [f"<3>moss-pivot: {why}; keeping state 1"]


def test_a_tree_in_the_wrong_slot_is_moved_to_its_own(tmp_path: Path) -> None:
    """The leftover of a crash between the exchange and the archive rename."""
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2,))
    (root / ".moss/root/2").rename(root / ".moss/root/5")
    run = run_agent(root, "moss.fstx=1", tmp_path)
    assert run.record is not None and run.record["result"] == "already-active"
    assert archived_states(root) == {"2": 2}
    assert run.kmsg == [
        f"<4>moss-pivot: repaired an interrupted activation: move {root}/.moss/root/5/usr"
        f" {root}/.moss/root/2/usr",
        "<6>moss-pivot: state 1 is already active (after repairing an interrupted activation)",
    ]


def test_staging_is_never_touched(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot")
    make_tree(root / ".moss/root/staging/usr", 9)
    run = run_agent(root, "moss.fstx=staging", tmp_path)
    assert run.record is not None and run.record["result"] == "kept-current"

    run = run_agent(root, "moss.fstx=2", tmp_path)
    assert run.record is not None and run.record["result"] == "activated"
    assert (root / ".moss/root/staging/usr/.stateID").read_text() == "9"
    assert archived_states(root)["staging"] == 9


def test_current_usr_without_state_id_is_kept(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot")
    (root / "usr/.stateID").unlink()
    before = snapshot(root)
    run = run_agent(root, "moss.fstx=2", tmp_path)
    assert run.returncode == 0
    assert snapshot(root) == before
    assert run.record is not None and run.record["result"] == "kept-current"
    assert run.kmsg == [
        "<3>moss-pivot: the current /usr has no .stateID to archive it under;"
        " keeping a /usr without .stateID"
    ]


def test_occupied_archive_slot_keeps_the_current_state(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2,))
    make_tree(root / ".moss/root/1/usr", 1, stamp="an older copy of state 1")
    before = snapshot(root)
    run = run_agent(root, "moss.fstx=2", tmp_path)
    assert snapshot(root) == before
    assert run.record is not None and run.record["result"] == "kept-current"
    assert "already exists" in run.record["reason"]


@pytest.mark.parametrize("layout", ["old-abs", "old-rel"])
def test_old_layout_is_read_and_converted(tmp_path: Path, layout: str) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2,), layout=layout)
    assert live_state(root) == 1

    same = run_agent(root, "moss.fstx=1", tmp_path)
    assert same.record is not None and same.record["result"] == "already-active"
    assert (root / "usr").is_symlink()

    run = run_agent(root, "moss.fstx=2", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.record is not None
    assert (run.record["result"], run.record["previous"], run.record["active"]) == (
        "activated",
        1,
        2,
    )
    assert_activated(root, new=2, old=1)

    back = run_agent(root, "moss.fstx=1", tmp_path)
    assert back.record is not None and back.record["result"] == "activated"
    assert_activated(root, new=1, old=2)


def test_old_layout_link_outside_the_state_root_is_kept(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=None, archived=(2,))
    make_tree(root / "opt/usr", 1)
    os.symlink("/opt/usr", root / "usr")
    before = snapshot(root)
    run = run_agent(root, "moss.fstx=2", tmp_path)
    assert run.returncode == 0
    assert snapshot(root) == before
    assert run.record is not None and run.record["result"] == "kept-current"


def test_missing_usr_with_a_good_request_boots_the_request(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=None, archived=(2,))
    run = run_agent(root, "moss.fstx=2", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.record is not None
    assert (run.record["result"], run.record["previous"], run.record["active"]) == (
        "activated",
        None,
        2,
    )
    assert live_state(root) == 2 and archived_states(root) == {}


def test_dangling_old_layout_link_is_replaced_by_the_request(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=None, archived=(2,))
    os.symlink(".moss/root/1/usr", root / "usr")
    run = run_agent(root, "moss.fstx=2", tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.record is not None and run.record["result"] == "activated"
    assert live_state(root) == 2 and archived_states(root) == {}


@pytest.mark.parametrize("cmdline", ["moss.fstx=5", "moss.fstx=abc"])
def test_nothing_bootable_exits_1(tmp_path: Path, cmdline: str) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=None, archived=())
    run = run_agent(root, cmdline, tmp_path)
    assert run.returncode == 1
    assert run.record is not None and run.record["active"] is None
    assert run.kmsg[-1] == (
        f"<3>moss-pivot: {root} has no usable /usr (no /usr); the boot will fail"
    )


def test_nothing_bootable_without_request_still_does_nothing(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=None, archived=())
    run = run_agent(root, "quiet", tmp_path)
    assert run.returncode == 0
    assert run.record is not None and run.record["result"] == "no-request"


def test_usage_error_exits_2(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.pivot import AGENT

    proc = subprocess.run(
        [sys.executable, "-I", "-S", str(AGENT), "--bogus"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unknown argument '--bogus'" in proc.stderr
