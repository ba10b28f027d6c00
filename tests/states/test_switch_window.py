"""A live switch cut off between the ``/usr`` exchange and its boot entries.

moss exchanges ``/usr`` first and writes the boot entries after; the first
mutating command after an interruption in between must finish the switch or say
that the boot went back to the old state (issue 15: "a completed update was lost
without a word").  The kill is moss's own SIGKILL at a checkpoint; the boot that
goes back is the real pivot agent run on the root.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.support.packages import make_package
from tests.support.pivot import run_agent


def moss(root: Path, *args: str, kill_at: str | None = None,
         check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env.pop("MOSS_KILL_AT", None)
    if kill_at:
        env["MOSS_KILL_AT"] = kill_at
    proc = subprocess.run([sys.executable, "-m", "moss", "-y", "-D", str(root), *args],
                          capture_output=True, text=True, env=env)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def interrupted_update(tmp_path: Path, point: str) -> Path:
    """State 1 live; the install of state 2 killed at ``point``."""
    root = tmp_path / "root"
    for release, kill_at in ((1, None), (2, point)):
        pkg = make_package(tmp_path, "hello", {"bin/hello": f"{release}\n"}, release=release)
        proc = moss(root, "install", str(pkg), kill_at=kill_at, check=kill_at is None)
    assert proc.returncode == -9, proc.stderr
    return root


def states(root: Path) -> dict[int, dict[str, object]]:
    return {s["id"]: s for s in json.loads(moss(root, "state", "list", "--json").stdout)}


def test_killed_after_the_exchange_the_next_command_finishes_the_switch(
        tmp_path: Path) -> None:
    root = interrupted_update(tmp_path, "activate:exchanged")
    first = moss(root, "boot", "status", check=False)  # read-only: no change, no message
    assert "interrupted" not in first.stderr
    proc = moss(root, "install", str(make_package(tmp_path, "other", {"bin/other": "x\n"})))
    assert "the switch to state 2 was interrupted before its boot entries were written" \
        in proc.stderr
    assert (root / "usr" / "bin" / "hello").read_text() == "2\n"
    again = moss(root, "remove", "other")
    assert "interrupted" not in again.stderr  # told once, then the record is gone


def test_the_exchange_lost_in_a_power_cut_rolls_back_and_says_so(tmp_path: Path) -> None:
    # The page cache lost the exchange: on disk moss stopped just before it.
    root = interrupted_update(tmp_path, "activate:before-exchange")
    proc = moss(root, "state", "list")
    assert proc.stderr == ""  # a query changes nothing and settles nothing
    pkg = make_package(tmp_path, "other", {"bin/other": "x\n"})
    proc = moss(root, "install", str(pkg))
    assert "rolled back state 2, which was interrupted before activation" in proc.stderr
    assert "was interrupted before its boot entr" not in proc.stderr
    assert (root / "usr" / "bin" / "hello").read_text() == "1\n"


def test_a_boot_that_went_back_to_the_old_state_is_explained(tmp_path: Path) -> None:
    root = interrupted_update(tmp_path, "tx:activated")  # live and recorded, no entries
    # The next boot: the ESP's default entry still names state 1; the agent goes back.
    (tmp_path / "agent").mkdir()
    agent = run_agent(root, "moss.fstx=1", tmp_path / "agent")
    assert agent.record is not None and agent.record["active"] == 1, agent
    (root / "run" / "moss").mkdir(parents=True, exist_ok=True)
    (root / "run" / "moss" / "pivot.json").write_text(json.dumps(agent.record))
    pkg = make_package(tmp_path, "other", {"bin/other": "x\n"})
    proc = moss(root, "install", str(pkg))
    assert ("the update to state 2 was interrupted before its boot entry became the "
            "default, so the system started state 1 again; state 2 is kept: "
            "`moss state activate 2` returns to it") in proc.stderr
    listed = states(root)
    assert listed[2]["active"] is False and listed[3]["active"] is True
    assert listed[1]["activated"] == "boot-fallback"  # not a choice in the boot menu
    assert (root / ".moss" / "root" / "2" / "usr" / "bin" / "hello").read_text() == "2\n"
