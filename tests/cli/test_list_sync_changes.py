"""`list sync` lists every release change `sync` would make, downgrades included, and the
plans mark downgrades and the packages pulled in as dependencies (issue 25 item 5)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss.cli import main
from moss.stonetools.index import build_index
from tests.support.packages import make_package

NAMES = ("hello", "tool", "zlib")


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def publish(repo: Path, releases: dict[str, int]) -> None:
    """The repository offers exactly these releases (hello needs zlib)."""
    shutil.rmtree(repo, ignore_errors=True)
    repo.mkdir(parents=True)
    for name, release in releases.items():
        make_package(repo, name, {f"share/{name}/release": str(release)}, release=release,
                     depends=("zlib",) if name == "hello" else ())
        shutil.rmtree(repo / f"tree-{name}-{release}")
    build_index(repo)


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(before=st.fixed_dictionaries({n: st.integers(1, 3) for n in NAMES}),
       after=st.fixed_dictionaries({n: st.integers(1, 3) for n in NAMES}))
def test_list_sync_shows_every_release_change(
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
        before: dict[str, int], after: dict[str, int]) -> None:
    work = tmp_path_factory.mktemp("sync")
    repo, root = work / "repo", work / "root"
    publish(repo, before)
    assert moss(root, "repo", "add", "main", (repo / "stone.index").as_uri()) == 0
    assert moss(root, "install", "hello", "tool") == 0
    publish(repo, after)
    assert moss(root, "repo", "update") == 0
    changed = {n: "upgrade" if after[n] > before[n] else "downgrade"
               for n in NAMES if after[n] != before[n]}
    capsys.readouterr()
    assert moss(root, "list", "sync", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"]: r["change"] for r in rows} == changed
    assert all(r["installed"] == f"1.0-{before[r['name']]}" and
               r["available"] == f"1.0-{after[r['name']]}" for r in rows)
    assert moss(root, "list", "sync", "--upgrade-only", "--json") == 0
    rows = json.loads(capsys.readouterr().out)
    assert {r["name"] for r in rows} == {n for n, c in changed.items() if c == "upgrade"}
    # The plan of the sync itself says the same, downgrades marked.
    assert moss(root, "sync", "--dry-run") == 0
    plan = capsys.readouterr().out
    for name in NAMES:
        line = f"  replace  {name}-1.0-{before[name]} -> {name}-1.0-{after[name]}"
        if name in changed:
            assert line + " (downgrade)" * (changed[name] == "downgrade") + "\n" in plan
        else:
            assert line not in plan


def test_plans_mark_the_packages_pulled_in_as_dependencies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo, root = tmp_path / "repo", tmp_path / "root"
    publish(repo, {"hello": 1, "tool": 1, "zlib": 1})
    assert moss(root, "repo", "add", "main", (repo / "stone.index").as_uri()) == 0
    capsys.readouterr()
    assert moss(root, "install", "--dry-run", "hello", "tool") == 0
    plan = capsys.readouterr().out.splitlines()
    assert "  install  hello-1.0-1" in plan and "  install  tool-1.0-1" in plan
    assert "  install  zlib-1.0-1 (dependency)" in plan
