"""Names that are not state ids, on a real root: moss (through its CLI) and the agent agree.

A ``.moss/root/<name>`` whose name is not a state id written as moss writes it
(``²``, ``٣``, ``01``, `` 2``...) is nobody's slot: both leave it exactly as it
is, and neither ends in a traceback.  A ``/usr/.stateID`` that is not a state id
gets one clear line from moss and changes nothing.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.packages import make_package, tree_snapshot
from tests.support.pivot import run_agent
from tests.support.sysroot import archived_states, live_state, make_sysroot, make_tree

ODD_NAMES = ["²", "٣", "-1", "01", "03", " 2", "2\n", "+2", "2.0", "1" * 200]


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120)


def hello(workdir: Path, release: int) -> Path:
    return make_package(workdir, "hello", {"bin/hello": f"release {release}\n"}, release=release)


def add_odd_slots(states: Path) -> dict[str, object]:
    """A tree claiming state 5 under every odd name, and an empty ``³``; returns a snapshot."""
    for name in ODD_NAMES:
        make_tree(states / name / "usr", 5)
    (states / "³").mkdir()
    return {name: tree_snapshot(states / name) for name in [*ODD_NAMES, "³"]}


def test_moss_leaves_directories_not_named_by_a_state_id_alone(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert moss(root, "install", str(hello(tmp_path, 1))).returncode == 0
    assert moss(root, "install", str(hello(tmp_path, 2))).returncode == 0
    states = root / ".moss" / "root"
    odd = add_odd_slots(states)

    for args in (["state", "list"], ["state", "prune", "--keep", "1"],
                 ["install", str(hello(tmp_path, 3))], ["state", "activate", "2"],
                 ["state", "verify"]):
        proc = moss(root, *args)
        assert proc.returncode == 0, (args, proc.stderr)
        assert "Traceback" not in proc.stderr and "recovered" not in proc.stderr, args

    assert (root / "usr" / ".stateID").read_text() == "2"
    assert sorted(p.name for p in states.iterdir()) == sorted(["3", *odd])
    assert {name: tree_snapshot(states / name) for name in odd} == odd
    listed = moss(root, "state", "list").stdout.splitlines()[1:]
    assert sorted(line.split()[0] for line in listed) == ["2", "3"]


def test_a_state_id_that_is_not_ascii_digits_gets_one_line_and_changes_nothing(
    tmp_path: Path,
) -> None:
    root = tmp_path / "root"
    assert moss(root, "install", str(hello(tmp_path, 1))).returncode == 0
    assert moss(root, "install", str(hello(tmp_path, 2))).returncode == 0
    (root / "usr" / ".stateID").write_text("²")
    before = tree_snapshot(root)

    listed = moss(root, "state", "list")
    assert listed.returncode == 0 and listed.stderr == ""
    assert "active" not in listed.stdout  # no state is the live /usr
    for args in (["install", str(hello(tmp_path, 3))], ["state", "prune", "--keep", "1"],
                 ["state", "activate", "1"], ["state", "verify"]):
        proc = moss(root, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("moss: error: "), args
        assert ".stateID does not hold a state id" in proc.stderr, args
    assert tree_snapshot(root) == before


def test_the_agent_leaves_directories_not_named_by_a_state_id_alone(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3))
    states = root / ".moss" / "root"
    odd = add_odd_slots(states)

    run = run_agent(root, "moss.fstx=3", tmp_path)

    assert run.returncode == 0, run.stderr
    assert run.record is not None and run.record["result"] == "activated"
    assert live_state(root) == 3
    assert {k: v for k, v in archived_states(root).items() if k in ("1", "2", "5")} == {
        "1": 1, "2": 2}
    assert {name: tree_snapshot(states / name) for name in odd} == odd
    assert not any("repaired" in line for line in run.kmsg)


def test_the_agent_refuses_a_request_named_with_other_digits(tmp_path: Path) -> None:
    root = make_sysroot(tmp_path / "sysroot", active=1, archived=(2, 3))
    os.rename(root / ".moss/root/3", root / ".moss/root/٣")  # a slot only int() would find

    for value in ("٣", "²", "03"):
        run = run_agent(root, f"moss.fstx={value}", tmp_path)
        assert run.returncode == 0, run.stderr
        assert live_state(root) == 1
    assert run.record is not None and run.record["result"] == "kept-current"
