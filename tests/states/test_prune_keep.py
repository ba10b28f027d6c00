"""``moss state prune -k N [--include-newer]`` through the CLI, with real moss's meaning.

N counts the active state; of the others the N-1 most recently created stay;
states newer than the active one are never candidates unless --include-newer
(moss/src/client/prune.rs, ``Strategy::KeepRecent``).  A state pending a reboot
is never removed, whatever the flags.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from moss.states import operations
from tests.support.packages import make_package, tree_snapshot


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def states_of(root: Path) -> list[tuple[int, bool, bool]]:
    return [(s.id, s.active, s.pending) for s in operations.list_states(root)]


def install(root: Path, tmp_path: Path, release: int, *flags: str) -> None:
    pkg = make_package(tmp_path, "hello", {"bin/hello": f"release {release}\n"},
                       release=release)
    proc = moss(root, "install", *flags, str(pkg))
    assert proc.returncode == 0, proc.stderr


def test_include_newer_never_takes_the_pending_state(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for release in (1, 2, 3):
        install(root, tmp_path, release)
    assert moss(root, "state", "activate", "2").returncode == 0
    install(root, tmp_path, 4, "--defer")  # state 4, pending a reboot
    assert states_of(root) == [(1, False, False), (2, True, False), (3, False, False),
                               (4, False, True)]
    proc = moss(root, "state", "prune", "-k", "1")
    assert proc.returncode == 0, proc.stderr
    assert "Removed states: 1" in proc.stdout  # 3 and 4 are newer than the active 2
    proc = moss(root, "state", "prune", "-k", "1", "--include-newer")
    assert proc.returncode == 0, proc.stderr
    assert "Removed states: 3" in proc.stdout
    assert states_of(root) == [(2, True, False), (4, False, True)]
    assert (root / "usr/bin/hello").read_text() == "release 2\n"
    assert moss(root, "state", "verify").returncode == 0


def test_keep_zero_is_one_line_and_changes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "root"
    for release in (1, 2):
        install(root, tmp_path, release)
    before = tree_snapshot(root)
    proc = moss(root, "state", "prune", "--keep", "0")
    assert proc.returncode == 1
    assert proc.stderr.count("\n") == 1 and "1 or more" in proc.stderr, proc.stderr
    assert tree_snapshot(root) == before
