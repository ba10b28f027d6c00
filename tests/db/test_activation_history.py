"""How each state became active, recorded in this moss's extras; and ``--skip-triggers``.

The history is what only this moss keeps (``.moss/db/extras``, table
``activations``): a transaction, a rollback with ``state activate``, a choice in
the boot menu applied by the pivot agent, or ``unrecorded`` when the state was
found active with no record (real moss made it so).
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.actions.test_install_triggers import shell_package
from tests.db.conftest import moss_cli
from tests.support.packages import make_package
from tests.triggers.test_triggers_run import _REASON, BUSYBOX


def history(root: Path) -> list[tuple[int, str]]:
    with contextlib.closing(sqlite3.connect(root / ".moss/db/extras")) as conn:
        return [(s, h) for s, h in conn.execute("SELECT state, how FROM activations ORDER BY id")]


def test_history_of_transactions_rollbacks_and_boot_choices(work: Path) -> None:
    root = work / "root"  # hello release 1 then 2: states 1 and 2, both by transaction
    assert history(root) == [(1, "transaction"), (2, "transaction")]
    assert moss_cli(root, "state", "activate", "1").returncode == 0
    assert history(root)[-1] == (1, "rollback")
    # The pivot agent activated state 2, chosen in the boot menu, at boot.
    (root / ".moss/root/1").mkdir()
    subprocess.run(["mv", str(root / "usr"), str(root / ".moss/root/1/usr")], check=True)
    subprocess.run(["mv", str(root / ".moss/root/2/usr"), str(root / "usr")], check=True)
    record = {"requested": 2, "previous": 1, "active": 2, "result": "activated",
              "reason": "test", "time": 99.5}
    (root / "run/moss").mkdir(parents=True, exist_ok=True)
    (root / "run/moss/pivot.json").write_text(json.dumps(record))
    assert moss_cli(root, "state", "verify").returncode == 0
    assert history(root)[-1] == (2, "boot-menu")
    assert moss_cli(root, "state", "verify").returncode == 0
    assert history(root)[-1] == (2, "boot-menu")  # once per boot


@pytest.mark.skipif(_REASON is not None, reason=_REASON or "")
def test_skip_triggers_runs_no_system_trigger(tmp_path: Path) -> None:
    """The AerynOS initramfs line: ``moss -D /sysroot state activate -y --skip-triggers N``."""
    root = tmp_path / "root"
    trigger = {
        "name": "count", "description": "counts its runs",
        "handlers": {"run": {"run": "/usr/bin/sh",
                             "args": ["-c", "echo ran >> /var/trigger-runs"]}},
        "paths": {"/usr/share/marker/*": {"handlers": ["run"]}},
    }
    files: dict[str, str | bytes] = {
        "bin/busybox": BUSYBOX.read_bytes(),
        "share/moss/triggers/sys.d/count.yaml": yaml.safe_dump(trigger),
        "share/marker/counted": "x",
    }
    counted = make_package(tmp_path, "counted", files)
    assert moss_cli(root, "install", str(shell_package(tmp_path)), str(counted)).returncode == 0
    extra = make_package(tmp_path, "extra", {"share/extra": "x"})
    assert moss_cli(root, "install", str(extra)).returncode == 0
    runs = root / "var/trigger-runs"
    before = runs.read_text()
    proc = subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "state", "activate",
                           "-y", "--skip-triggers", "1"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert (root / "usr/.stateID").read_text() == "1"
    assert runs.read_text() == before
    assert moss_cli(root, "state", "activate", "2").returncode == 0
    assert runs.read_text() == before + "ran\n"
