"""After the boot loader gave up on a pending state, moss says so and builds on what runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moss.states import operations
from tests.boot.test_boot_integration import (
    entry_options,
    hello,
    kernel_package,
    moss,
    moss_json,
    root,
)
from tests.support.pivot import run_agent

__all__ = ["root"]


def _boot(root: Path, entry: str, work: Path) -> None:
    """The agent at boot with ``entry``'s command line; its record where moss reads it."""
    work.mkdir()
    run = run_agent(root, entry_options(root, entry), work)
    assert run.returncode == 0 and run.record is not None
    assert run.record["result"] == "activated"
    (root / "run/moss").mkdir(parents=True, exist_ok=True)
    (root / "run/moss/pivot.json").write_text(json.dumps(run.record))


def test_first_moss_command_after_a_fallback_names_the_failed_state(
        tmp_path: Path, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", str(kernel_package(tmp_path, "6.1.0-1", 1))) == 0
    old_entry = moss_json(root, capsys, "boot", "status")["default"]  # type: ignore[index]
    assert moss(root, "install", "--defer", str(kernel_package(tmp_path, "6.1.0-2", 2))) == 0
    pending_entry = moss_json(root, capsys, "boot", "status")["default"]  # type: ignore[index]
    # tries of the pending state (no moss runs in them), then the loader falls back
    _boot(root, pending_entry, tmp_path / "try")
    _boot(root, old_entry, tmp_path / "fallback")
    assert (root / "usr/.stateID").read_text() == "1"
    capsys.readouterr()

    assert moss(root, "install", str(hello(tmp_path, 1))) == 0

    err = capsys.readouterr().err
    assert "state 2 failed to boot" in err and "fell back to state 1" in err
    states = {s.id: s for s in operations.list_states(root)}
    assert not any(s.pending for s in states.values())
    assert states[3].active
    assert sorted(p.name for p in (root / "usr/lib/kernel").iterdir()) == ["6.1.0-1"]
