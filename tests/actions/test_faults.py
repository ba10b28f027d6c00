"""SIGKILL at every step of install, remove, state activate and state prune.

After each kill, ``/usr`` must be a complete tree of either the old or the new
state (compared file by file), the next moss run must leave ``.stateID`` and
the databases agreeing, ``state verify`` must be clean, and the next
transaction must succeed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from moss.cli import main
from moss.core.faults import ENV
from moss.states import operations
from tests.support.packages import Snapshot, make_package, tree_snapshot

TX_POINTS = [
    "tx:planned", "unpack:blobs-stored", "tx:unpacked", "tx:recorded", "tx:built",
    "activate:before-exchange", "activate:exchanged", "activate:archived", "tx:activated",
]
ACTIVATE_POINTS = ["activate:before-exchange", "activate:exchanged", "activate:archived"]
REMOVE_POINTS = [p for p in TX_POINTS if not p.startswith("unpack:")]  # nothing to unpack
PRUNE_POINTS = ["prune:tree-renamed", "prune:trees-removed", "prune:rows-removed"]


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
