"""`moss cache prune` keeps what an active repository still offers (as real moss), shows
what goes and how many bytes before asking, takes `--dry-run`, and reports bytes
(issue 25 item 6)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss.core.root import Root
from moss.stonetools.index import build_index
from tests.support.packages import make_package
from tests.support.sysroot import snapshot

NAMES = ("alpha", "beta", "gamma")


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), *args],
                          capture_output=True, text=True, timeout=120, check=False,
                          stdin=subprocess.DEVNULL)


def downloaded(root: Path) -> set[str]:
    top = Root(root).cache / "downloads" / "v1"
    return {p.name for p in top.rglob("*") if p.is_file()}


@settings(max_examples=4, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(still_offered=st.sets(st.sampled_from(NAMES)))
def test_prune_keeps_what_an_active_repository_offers(
        tmp_path_factory: pytest.TempPathFactory, still_offered: set[str]) -> None:
    work = tmp_path_factory.mktemp("prune")
    repo, root = work / "repo", work / "root"
    repo.mkdir()
    for name in NAMES:
        make_package(repo, name, {f"share/{name}/data": name * 500})
    build_index(repo)
    assert moss(root, "repo", "add", "main", (repo / "stone.index").as_uri()).returncode == 0
    # An ephemeral root: this root's databases and cache learn the packages, no state
    # selects them.
    assert moss(root, "-y", "install", *NAMES, "--to", str(work / "out")).returncode == 0
    # The repository stops offering some of them; only those are pruned.
    for name in NAMES:
        if name not in still_offered:
            (repo / f"{name}-1.0-1.stone").unlink()
    build_index(repo)
    assert moss(root, "repo", "update").returncode == 0
    before = snapshot(root)
    kept = downloaded(root)
    dry = moss(root, "cache", "prune", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    gone = sorted(set(NAMES) - still_offered)
    for name in NAMES:
        assert (f"remove   {name}-1.0-1" in dry.stdout) == (name in gone), dry.stdout
    assert snapshot(root) == before
    # Without -y in a script it asks, gets no answer, and deletes nothing.
    asked = moss(root, "cache", "prune")
    assert asked.returncode == (1 if gone else 0) and snapshot(root) == before
    pruned = moss(root, "-y", "cache", "prune")
    assert pruned.returncode == 0, pruned.stderr
    if gone:
        assert " freed" in pruned.stdout and ("KiB" in pruned.stdout or "bytes" in pruned.stdout)
        assert len(downloaded(root)) == len(still_offered)
    else:
        assert pruned.stdout.strip() == "No files to remove"
        assert downloaded(root) == kept
    # What is kept still installs without a download.
    for name in still_offered:
        assert moss(root, "-y", "install", name).returncode == 0
