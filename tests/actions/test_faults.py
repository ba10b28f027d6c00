"""SIGKILL at every step of install, remove, state activate and state prune.

After each kill, ``/usr`` must be a complete tree of either the old or the new
state (compared file by file), the next moss run must leave ``.stateID`` and
the databases agreeing, ``state verify`` must be clean, and the next
transaction must succeed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from moss.cli import main
from moss.core.faults import ENV
from moss.states import operations
from tests.support.packages import Snapshot, make_package, tree_snapshot

TX_POINTS = [
    "tx:planned", "unpack:blobs-written", "unpack:blobs-placed", "unpack:blobs-stored",
    "unpack:assets-recorded", "unpack:layout-recorded", "tx:unpacked", "tx:extras-recorded",
    "tx:recorded", "tx:built",
    "activate:before-exchange", "activate:exchanged", "activate:archived", "tx:activated",
]
ACTIVATE_POINTS = ["activate:before-exchange", "activate:exchanged", "activate:archived"]
REMOVE_POINTS = [p for p in TX_POINTS if not p.startswith("unpack:")]  # nothing to unpack
PRUNE_POINTS = ["prune:tree-renamed", "prune:trees-removed", "db:state-rows-removed",
                "prune:rows-removed"]
UPGRADE_POINTS = ["upgrade:built", "upgrade:moved-one"]
LEGACY_ROOT = Path(__file__).parent.parent / "data/legacy-root-1739e36.tar.gz"


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def killed_moss(root: Path, point: str, *args: str) -> None:
    env = {**os.environ, ENV: point}
    proc = subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                           *args], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == -signal.SIGKILL, (point, proc.returncode, proc.stderr)


def packages(workdir: Path) -> list[Path]:
    return [
        make_package(workdir, "hello", {"bin/hello": f"release {r}\n", "share/a/b": "same",
                                        f"share/only-{r}": "x" * r}, release=r)
        for r in (1, 2, 3)
    ]


def assert_consistent_after_next_run(root: Path, allowed: list[Snapshot]) -> None:
    assert tree_snapshot(root / "usr") in allowed
    assert moss(root, "state", "verify") == 0  # the next run: recovers, then verifies
    active = int((root / "usr/.stateID").read_text())
    infos = {s.id: s for s in operations.list_states(root)}
    assert infos[active].active
    for state_id in infos:
        if state_id != active:
            assert (root / f".moss/root/{state_id}/usr/.stateID").read_text() == str(state_id)
    assert not (root / ".moss/root/staging").exists()
    assert_databases_agree(root)


def assert_databases_agree(root: Path) -> None:
    """Real moss's tables and this moss's extras name the same states; every selected
    package has its meta and layout rows; no schema change leaked into a real table."""
    db = root / ".moss/db"
    with contextlib.closing(sqlite3.connect(db / "state")) as state:
        ids = {r[0] for r in state.execute("SELECT id FROM state")}
        selected = {r[0] for r in state.execute("SELECT package_id FROM state_selections")}
    with contextlib.closing(sqlite3.connect(db / "extras")) as extras:
        for table in ("state_claims", "state_subscriptions", "filtered_paths", "activations"):
            named = {r[0] for r in extras.execute(f"SELECT state FROM {table}")}
            assert named <= ids, (table, named - ids)
    with contextlib.closing(sqlite3.connect(db / "install")) as install:
        assert selected <= {r[0] for r in install.execute("SELECT package FROM meta")}
    with contextlib.closing(sqlite3.connect(db / "layout")) as layout:
        assert selected <= {r[0] for r in layout.execute("SELECT package_id FROM layout")}
    for name in ("install", "state", "layout"):
        with contextlib.closing(sqlite3.connect(db / name)) as conn:
            assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Snapshot]:
    """The trees a clean run produces, to compare the killed runs with."""
    work = tmp_path_factory.mktemp("reference")
    root = work / "root"
    pkgs = packages(work)
    snaps = {}
    assert moss(root, "install", str(pkgs[0])) == 0
    snaps["v1"] = tree_snapshot(root / "usr")
    assert moss(root, "install", str(pkgs[1])) == 0
    snaps["v2"] = tree_snapshot(root / "usr")
    assert moss(root, "remove", "hello") == 0
    snaps["removed"] = tree_snapshot(root / "usr")
    return snaps


@pytest.mark.parametrize("point", TX_POINTS)
def test_install_killed(point: str, tmp_path: Path, reference: dict[str, Snapshot]) -> None:
    root = tmp_path / "root"
    pkgs = packages(tmp_path)
    assert moss(root, "install", str(pkgs[0])) == 0
    killed_moss(root, point, "install", str(pkgs[1]))
    assert_consistent_after_next_run(root, [reference["v1"], reference["v2"]])
    assert moss(root, "install", str(pkgs[2])) == 0
    assert (root / "usr/bin/hello").read_text() == "release 3\n"
    assert moss(root, "state", "verify") == 0


@pytest.mark.parametrize("point", REMOVE_POINTS)
def test_remove_killed(point: str, tmp_path: Path, reference: dict[str, Snapshot]) -> None:
    root = tmp_path / "root"
    pkgs = packages(tmp_path)
    assert moss(root, "install", str(pkgs[0])) == 0
    assert moss(root, "install", str(pkgs[1])) == 0
    killed_moss(root, point, "remove", "hello")
    assert_consistent_after_next_run(root, [reference["v2"], reference["removed"]])
    assert moss(root, "install", str(pkgs[2])) == 0


@pytest.mark.parametrize("point", ACTIVATE_POINTS)
def test_activate_killed(point: str, tmp_path: Path,
                         reference: dict[str, Snapshot]) -> None:
    root = tmp_path / "root"
    pkgs = packages(tmp_path)
    assert moss(root, "install", str(pkgs[0])) == 0
    assert moss(root, "install", str(pkgs[1])) == 0
    killed_moss(root, point, "state", "activate", "1")
    assert_consistent_after_next_run(root, [reference["v1"], reference["v2"]])
    assert moss(root, "state", "activate", "1") == 0
    assert tree_snapshot(root / "usr") == reference["v1"]
    assert moss(root, "install", str(pkgs[2])) == 0


@pytest.mark.parametrize("point", PRUNE_POINTS)
def test_prune_killed(point: str, tmp_path: Path, reference: dict[str, Snapshot]) -> None:
    root = tmp_path / "root"
    pkgs = packages(tmp_path)
    assert moss(root, "install", str(pkgs[0])) == 0
    assert moss(root, "install", str(pkgs[1])) == 0
    killed_moss(root, point, "state", "prune", "--keep", "1")
    assert_consistent_after_next_run(root, [reference["v2"]])
    assert [s.id for s in operations.list_states(root)] == [2]
    assert moss(root, "state", "prune", "--keep", "1") == 0
    assert moss(root, "install", str(pkgs[2])) == 0
    assert moss(root, "state", "verify") == 0


DEFER_POINTS = [*(p for p in TX_POINTS if not p.startswith("activate:")), "defer:archived"]


@pytest.mark.parametrize("point", DEFER_POINTS)
def test_deferred_install_killed(point: str, tmp_path: Path,
                                 reference: dict[str, Snapshot]) -> None:
    """A deferred update never touches /usr; after a kill it is pending in full or not at all."""
    root = tmp_path / "root"
    pkgs = packages(tmp_path)
    assert moss(root, "install", str(pkgs[0])) == 0
    killed_moss(root, point, "install", "--defer", str(pkgs[1]))
    assert_consistent_after_next_run(root, [reference["v1"]])
    infos = operations.list_states(root)
    pending = [s.id for s in infos if s.pending]
    for state_id in pending:
        tree = root / f".moss/root/{state_id}/usr"
        assert (tree / ".stateID").read_text() == str(state_id)
        assert (tree / "bin/hello").read_text() == "release 2\n"
    assert moss(root, "install", "--defer", str(pkgs[2])) == 0
    infos = operations.list_states(root)
    assert [s.id for s in infos if s.pending] == [max(s.id for s in infos)]
    assert moss(root, "state", "verify") == 0


@pytest.mark.parametrize("point", UPGRADE_POINTS)
def test_legacy_upgrade_killed(point: str, tmp_path: Path) -> None:
    """Killed while upgrading an earlier release's databases: the old files are kept
    until the new ones are complete, and the next run finishes the upgrade."""
    with tarfile.open(LEGACY_ROOT) as tar:
        tar.extractall(tmp_path, filter="tar")
    root = tmp_path / "root"
    before = tree_snapshot(root / "usr")
    killed_moss(root, point, "state", "activate", "1")
    assert tree_snapshot(root / "usr") == before
    assert moss(root, "state", "verify") == 0
    assert [s.id for s in operations.list_states(root)] == [1, 2]
    assert sorted(p.name for p in (root / ".moss/db.legacy").iterdir()) == [
        "install", "layout", "state"]
    assert not (root / ".moss/db.upgrade").exists()
    assert_databases_agree(root)
    assert moss(root, "state", "activate", "1") == 0
    assert (root / "usr/.stateID").read_text() == "1"



@pytest.mark.parametrize("point", ["unpack:blobs-placed", "unpack:assets-recorded",
                                   "tx:extras-recorded", "tx:recorded", "activate:exchanged"])
def test_install_killed_on_a_real_moss_root(point: str, tmp_path: Path) -> None:
    """Killed building state 2 on a root real moss built: real moss's own query then
    sees state 1 alone, or 1 and a complete 2, matching the live /usr."""
    from tests.db import realmoss

    root = tmp_path / "root"
    realmoss.build_root(root, ["bash-completion-2.11-1-1-x86_64.stone"])
    killed_moss(root, point, "install", str(realmoss.STONES / "pineapple-1-1-1-x86_64.stone"))
    assert moss(root, "state", "verify") == 0
    assert_databases_agree(root)
    active = int((root / "usr/.stateID").read_text())
    ids = [s["id"] for s in realmoss.states(root / ".moss/db")]
    assert ids in ([1], [1, 2]) and active in ids
    assert (root / "usr/share/defaults/pienapple").exists() == (active == 2)
