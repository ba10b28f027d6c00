"""Extras left by a crashed transaction never pass for a state real moss made later.

A transaction writes its state's extras (claim, subscriptions, filtered paths)
before real moss's row.  Killed between the two, the extras name an id the real
tables lack; if real moss runs next, it gives its own new state that very id.
The claim's ``created`` tells them apart: the extras are ignored, then swept.
"""

from __future__ import annotations

import contextlib
import sqlite3
import subprocess
from pathlib import Path

from moss.core.root import Root
from moss.db.databases import databases
from tests.db import realmoss
from tests.db.conftest import moss_cli


def test_extras_of_a_crashed_attempt_do_not_attach_to_real_moss_state(work: Path) -> None:
    root = work / "root"  # this moss's states 1 and 2
    with contextlib.closing(sqlite3.connect(root / ".moss/db/extras")) as conn, conn:
        conn.execute("INSERT INTO state_claims (state, created) VALUES (3, 1000)")
        conn.execute("INSERT INTO filtered_paths VALUES (3, 'share/a/b', 'dropped')")
        conn.execute("INSERT INTO state_subscriptions VALUES (3, 'docs')")
    with realmoss.connect(root / ".moss/db", "state") as conn:  # then real moss's state 3
        conn.execute("BEGIN")
        state_id = conn.execute(realmoss.STATE_INSERT, ("transaction", "by real moss",
                                                        None)).lastrowid
        conn.execute("COMMIT")
    assert state_id == 3
    (root / ".moss/root/3").mkdir()
    subprocess.run(["cp", "-a", str(root / "usr"), str(root / ".moss/root/3/usr")], check=True)
    (root / ".moss/root/3/usr/.stateID").write_text("3")
    with databases(Root(root)) as dbs:
        assert dbs.state.filtered(3) == {}
        assert dbs.state.subscriptions(3) == []
        assert dbs.state.filtered(2) == {}
    assert moss_cli(root, "state", "prune", "--keep", "10").returncode == 0  # recovery runs
    with contextlib.closing(sqlite3.connect(root / ".moss/db/extras")) as conn:
        for table in ("state_claims", "filtered_paths", "state_subscriptions"):
            assert conn.execute(f"SELECT count(*) FROM {table} WHERE state = 3").fetchone() == (
                0,)
    assert [s["id"] for s in realmoss.states(root / ".moss/db")] == [1, 2, 3]
