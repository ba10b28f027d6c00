"""A pending (`install --defer`) state is never replaced without a word: any later plan
says its changes are carried into the new state, which waits for the reboot in its
place unless `--now` (issue 25 item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moss.cli import main
from moss.states import operations
from tests.support.packages import make_package


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def linux(work: Path, release: int) -> Path:
    kver = f"6.{release}.0"
    files = {f"lib/kernel/{kver}/vmlinuz": f"kernel {release}",
             f"lib/kernel/{kver}/10.cmdline": "quiet"}
    return make_package(work / f"k{release}", "linux", files, version=kver, release=release)


def packages_of(root: Path, state: int, capsys: pytest.CaptureFixture[str]) -> set[str]:
    capsys.readouterr()
    assert moss(root, "state", "query", str(state), "--json") == 0
    data = json.loads(capsys.readouterr().out)
    return {f"{p['name']}-{p['version']}" for p in data["packages"]}


@pytest.mark.parametrize("now", [False, True])
@pytest.mark.parametrize("later", ["remove", "install"])
def test_a_later_plan_says_it_carries_the_pending_state(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], later: str, now: bool) -> None:
    root = tmp_path / "root"
    hello = make_package(tmp_path, "hello", {"bin/hello": "hello\n"})
    extra = make_package(tmp_path, "extra", {"bin/extra": "extra\n"})
    assert moss(root, "install", str(hello), str(linux(tmp_path, 1))) == 0
    assert moss(root, "install", "--defer", str(linux(tmp_path, 2))) == 0
    assert [(s.id, s.pending) for s in operations.list_states(root)] == [(1, False), (2, True)]
    args = ["remove", "hello"] if later == "remove" else ["install", str(extra)]
    capsys.readouterr()
    assert main(["-D", str(root), *args, "--dry-run"]) == 0
    plan = capsys.readouterr().out
    assert ("state 2 (pending: linux 6.1.0-1 -> 6.2.0-2) is carried into the new state, "
            "which replaces it") in plan
    capsys.readouterr()
    assert moss(root, *args, *(["--now"] if now else [])) == 0
    out = capsys.readouterr().out
    states = operations.list_states(root)
    assert [s.id for s in states] == [1, 3]
    assert "linux-6.2.0" in packages_of(root, 3, capsys)
    if now:
        assert (root / "usr/.stateID").read_text() == "3"
        assert "is now active" in out
    else:
        # Still waiting for the reboot, as the state it replaces was.
        assert [(s.id, s.pending) for s in states] == [(1, False), (3, True)]
        assert (root / "usr/.stateID").read_text() == "1"
        assert "staged" in out


@pytest.mark.parametrize("target", [1, 2])
def test_activating_a_state_says_what_happens_to_the_pending_one(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], target: int) -> None:
    root = tmp_path / "root"
    hello = make_package(tmp_path, "hello", {"bin/hello": "hello\n"})
    assert moss(root, "install", str(hello), str(linux(tmp_path, 1))) == 0
    extra = make_package(tmp_path, "extra", {"bin/extra": "extra\n"})
    assert moss(root, "install", str(extra)) == 0
    assert moss(root, "install", "--defer", str(linux(tmp_path, 2))) == 0
    assert [(s.id, s.pending) for s in operations.list_states(root)] == [
        (1, False), (2, False), (3, True)]
    activate = 1 if target == 1 else 3
    capsys.readouterr()
    assert main(["-D", str(root), "state", "activate", str(activate), "--dry-run"]) == 0
    plan = capsys.readouterr().out
    if activate == 3:
        assert "pending  state 3 is applied now instead of at the next boot" in plan
    else:
        assert "pending  state 3 is no longer applied at the next boot; it stays on disk" in plan
    assert moss(root, "state", "activate", str(activate)) == 0
    assert [s.pending for s in operations.list_states(root)] == [False, False, False]
    assert 3 in [s.id for s in operations.list_states(root)]
