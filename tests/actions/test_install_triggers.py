"""Triggers inside a real transaction: they run on the new tree, and a failure stops it."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from moss.cli import main
from moss.states import operations
from tests.support.packages import make_package, tree_snapshot
from tests.triggers.test_triggers_run import _REASON, BUSYBOX

pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def trigger_package(workdir: Path, name: str, script: str, release: int = 1) -> Path:
    trigger = {
        "name": name,
        "description": f"{name} test trigger",
        "handlers": {"run": {"run": "/usr/bin/sh", "args": ["-c", script]}},
        "paths": {"/usr/share/marker/*": {"handlers": ["run"]}},
    }
    return make_package(workdir, name, {
        "bin/busybox": BUSYBOX.read_bytes(),
        f"share/moss/triggers/tx.d/{name}.yaml": yaml.safe_dump(trigger),
        f"share/marker/{name}-{release}": "x",
    }, release=release)


def shell_package(workdir: Path) -> Path:
    from tests.support.packages import Link

    return make_package(workdir, "shell", {"bin/sh": Link("busybox")})


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def test_transaction_trigger_writes_into_the_new_tree(tmp_path: Path) -> None:
    root = tmp_path / "root"
    pkgs = [shell_package(tmp_path),
            trigger_package(tmp_path, "stamp", "echo built > /usr/share/stamp")]
    assert moss(root, "install", *map(str, pkgs)) == 0
    assert (root / "usr/share/stamp").read_text() == "built\n"


def test_failing_trigger_stops_the_transaction_and_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert moss(root, "install", str(shell_package(tmp_path))) == 0
    before = tree_snapshot(root / "usr")
    bad = trigger_package(tmp_path, "broken", "echo oh no >&2; exit 3")
    assert moss(root, "install", str(bad)) == 1
    err = capsys.readouterr().err
    assert "broken" in err and "oh no" in err
    assert tree_snapshot(root / "usr") == before
    assert [s.id for s in operations.list_states(root)] == [1]
    assert not (root / ".moss/root/staging").exists()


def test_system_triggers_skipped_at_boot_run_once_on_the_next_moss_run(tmp_path: Path) -> None:
    """The agent swaps trees in the initramfs and runs no triggers; moss runs them after."""
    import json

    root = tmp_path / "root"
    counter = "echo ran >> /var/boot-trigger-runs"
    trigger = {
        "name": "count",
        "description": "counts its runs",
        "handlers": {"run": {"run": "/usr/bin/sh", "args": ["-c", counter]}},
        "paths": {"/usr/share/marker/*": {"handlers": ["run"]}},
    }
    pkg = make_package(tmp_path, "counted", {
        "bin/busybox": BUSYBOX.read_bytes(),
        "share/moss/triggers/sys.d/count.yaml": yaml.safe_dump(trigger),
        "share/marker/counted": "x",
    })
    assert moss(root, "install", str(shell_package(tmp_path)), str(pkg)) == 0
    runs = root / "var/boot-trigger-runs"
    assert runs.read_text() == "ran\n"  # after the transaction itself
    record = {"requested": 1, "previous": 1, "active": 1, "result": "activated",
              "reason": "test", "elapsed_ms": 1.0, "time": 1234.5}
    (root / "run/moss").mkdir(parents=True)
    (root / "run/moss/pivot.json").write_text(json.dumps(record))
    assert moss(root, "state", "prune", "--keep", "5") == 0
    assert runs.read_text() == "ran\nran\n"
    assert moss(root, "state", "prune", "--keep", "5") == 0
    assert runs.read_text() == "ran\nran\n"  # once per boot
