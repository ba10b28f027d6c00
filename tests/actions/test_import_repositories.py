"""`sync --import` gives a root exactly the model's packages *and* repositories, and
`sync -u --import` refreshes the model's repositories even on a root that has none
configured, as real moss does after os-tools #779 (issue 25 item 2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from moss.stonetools.index import build_index
from tests.support.packages import make_package


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def ok(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def repos(root: Path) -> list[tuple[str, bool, bool]]:
    listed = json.loads(ok(moss(root, "repo", "list", "--json")))
    return [(r["id"], r["active"], r["fetched"]) for r in listed]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model exported from a root that installed hello from repository main."""
    base = tmp_path_factory.mktemp("model")
    for name, index in (("main", "hello"), ("other", "tool")):
        repo = base / name
        repo.mkdir()
        make_package(repo, index, {f"bin/{index}": f"{index}\n"})
        make_package(repo, f"{index}-doc", {f"share/doc/{index}": "doc\n"})
        build_index(repo)
    source = base / "source"
    ok(moss(source, "repo", "add", "main", (base / "main/stone.index").as_uri()))
    ok(moss(source, "install", "hello"))
    out = base / "system-model.kdl"
    ok(moss(source, "state", "export", "-o", str(out)))
    return out


@pytest.mark.parametrize("update", [False, True])
def test_import_brings_the_models_repositories(model: Path, tmp_path: Path,
                                               update: bool) -> None:
    root = tmp_path / "root"
    out = ok(moss(root, "sync", *(["-u"] if update else []), "--import", str(model)))
    assert "main: 2 packages" in out
    assert "added repository main from the model" in out
    assert repos(root) == [("main", True, True)]
    # The repository is the root's own now: a later install by name finds it.
    ok(moss(root, "install", "hello-doc"))
    assert (root / "usr/share/doc/hello").read_text() == "doc\n"


def test_import_disables_what_the_model_does_not_name(model: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    other = model.parent / "other/stone.index"
    ok(moss(root, "repo", "add", "other", other.as_uri()))
    ok(moss(root, "install", "tool"))
    out = ok(moss(root, "sync", "--import", str(model)))
    assert "disabled repository other" in out
    assert repos(root) == [("main", True, True), ("other", False, True)]
    installed = json.loads(ok(moss(root, "list", "installed", "--json")))
    assert [p["name"] for p in installed] == ["hello"]
    # Importing again changes nothing and says nothing about repositories.
    again = ok(moss(root, "sync", "--import", str(model)))
    assert "repository" not in again


def test_a_dry_run_or_a_refused_import_configures_nothing(model: Path, tmp_path: Path) -> None:
    root = tmp_path / "root"
    ok(moss(root, "sync", "--dry-run", "--import", str(model)))
    assert not (root / "etc/moss").exists()
    broken = tmp_path / "broken.kdl"
    broken.write_text(model.read_text().replace("hello", "no-such-package"))
    refused = moss(root, "sync", "--import", str(broken))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert not (root / "etc/moss").exists()
