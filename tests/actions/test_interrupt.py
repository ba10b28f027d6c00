"""Ctrl-C while a transaction works: status 130, one line, the old state whole and active."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moss.cli import main
from moss.states import operations
from tests.actions.test_install_triggers import shell_package, trigger_package
from tests.support.interrupt import sigint_default
from tests.support.packages import make_package, tree_snapshot
from tests.triggers.test_triggers_run import _REASON

pytestmark = pytest.mark.skipif(_REASON is not None, reason=_REASON or "")


def test_sigint_while_a_trigger_runs(tmp_path: Path) -> None:
    root = tmp_path / "root"
    assert main(["-D", str(root), "-y", "--quiet", "install",
                 str(shell_package(tmp_path))]) == 0
    before = tree_snapshot(root / "usr")
    slow = trigger_package(tmp_path, "slow",
                           "echo started > /usr/share/started; exec /usr/bin/busybox sleep 5")
    proc = subprocess.Popen([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                             "install", str(slow)], stderr=subprocess.PIPE, text=True,
                            preexec_fn=sigint_default)
    started = root / ".moss/root/staging/usr/share/started"
    deadline = time.monotonic() + 60
    while not started.exists():
        assert proc.poll() is None and time.monotonic() < deadline, "the trigger never ran"
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert err.startswith("moss: interrupted; run the command again"), err
    assert tree_snapshot(root / "usr") == before
    assert [(s.id, s.active) for s in operations.list_states(root)] == [(1, True)]
    assert not (root / ".moss/root/staging").exists()
    quick = make_package(tmp_path, "quick", {"bin/quick": "quick\n"})
    assert main(["-D", str(root), "-y", "--quiet", "install", str(quick)]) == 0
