"""``moss state list`` says how each state last became active, as a user reads it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.packages import make_package


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-y", "-D", str(root), *args],
                          capture_output=True, text=True, check=True)


def test_state_list_shows_transaction_and_rollback(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for release in (1, 2):
        pkg = make_package(tmp_path, "hello", {"bin/hello": f"{release}\n"}, release=release)
        moss(root, "install", str(pkg))
    moss(root, "state", "activate", "1")
    states = {s["id"]: s for s in json.loads(moss(root, "state", "list", "--json").stdout)}
    assert states[1]["activated"] == "rollback" and states[1]["active"]
    assert states[2]["activated"] == "transaction"
    table = moss(root, "state", "list").stdout.splitlines()
    assert "ACTIVATED BY" in table[0]
    assert any(line.startswith("1 ") and "rollback" in line for line in table)
