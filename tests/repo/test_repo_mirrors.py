"""Mirrors: a repository's extra URIs, tried in order, the failing ones penalized.

Against a real nginx: a mirror that is down, one that serves a stale (older,
validly signed) index, and a good one; ``repo list`` names the one that
answered, and packages come from it.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.core import kdl
from moss.repo import mirrors
from moss.repo.config import Repository, load_repositories
from moss.stonetools.index import build_index
from tests.repo.test_repo_signature import make_key, needs_minisign, sign
from tests.support.nginx import Nginx, nginx
from tests.support.packages import make_package

__all__ = ["nginx"]


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def dead_url() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/repo/stone.index"


def publish(server: Nginx, folder: str, release: Path, sec: Path, stamp: int) -> None:
    """Serve the repository folder ``release`` (packages, index, signature) at ``folder``."""
    sign(sec, release / "stone.index", comment=f"timestamp:{stamp}")
    for path in (p for p in release.iterdir() if p.is_file()):
        server.publish(f"{folder}/{path.name}", path.read_bytes())


def release_folder(tmp_path: Path, number: int) -> Path:
    folder = tmp_path / f"release{number}"
    folder.mkdir()
    make_package(folder, "hello", {f"bin/hello{number}": f"hello {number}\n"}, release=number)
    build_index(folder)
    return folder


@needs_minisign
def test_a_dead_and_a_stale_mirror_are_penalized_and_the_good_one_answers(
        nginx: Nginx, tmp_path: Path) -> None:
    pub, sec = make_key(tmp_path)
    old, new = release_folder(tmp_path, 1), release_folder(tmp_path, 2)
    publish(nginx, "good", new, sec, 1_700_000_100)
    root = tmp_path / "root"
    dead = dead_url()
    stale, good = nginx.url("stale/stone.index"), nginx.url("good/stone.index")
    added = moss(root, "repo", "add", "main", dead, "--mirror", stale, "--mirror", good,
                 "--key", str(pub))
    assert added.returncode == 0, added.stderr
    first = moss(root, "repo", "update")
    assert first.returncode == 0, first.stderr
    listing = moss(root, "repo", "list").stdout
    assert f"main mirror 2: {good} (answered)" in listing
    assert f"main uri: {dead} (penalized:" in listing

    # The good mirror goes away and the other one replays an older signed index:
    # refused as today, in one line, and the index in use stays.
    publish(nginx, "stale", old, sec, 1_700_000_000)
    (nginx.www / "good/stone.index").unlink()
    refused = moss(root, "repo", "update")
    assert refused.returncode == 1
    assert len(refused.stderr.strip().splitlines()) == 1
    assert "older than the one in use" in refused.stderr

    publish(nginx, "good", new, sec, 1_700_000_100)
    again = moss(root, "repo", "update")
    assert again.returncode == 0, again.stderr
    [repo] = load_repositories(root)
    assert repo.answered == good
    state = json.loads(moss(root, "repo", "list", "--json").stdout)[0]
    assert state["answered"] == good
    assert "older than the one in use" in state["penalized"][stale]
    assert dead in state["penalized"]
    # Packages come from the mirror whose index is in use: release 2 exists only there.
    out = tmp_path / "out"
    fetched = moss(root, "fetch", "hello", "-o", str(out))
    assert fetched.returncode == 0, fetched.stderr
    assert [p.read_bytes() for p in out.iterdir()] == [
        next(new.glob("hello-*.stone")).read_bytes()]


def test_all_mirrors_failing_is_one_line_and_keeps_nothing_new(tmp_path: Path) -> None:
    root = tmp_path / "root"
    added = moss(root, "repo", "add", "main", dead_url(), "--mirror", dead_url())
    assert added.returncode == 1  # `repo add` fetches at once (issue 25): it says so
    assert len(added.stderr.strip().splitlines()) == 1
    assert "no mirror served a usable index" in added.stderr
    failed = moss(root, "repo", "update")  # the repository stays added
    assert failed.returncode == 1
    assert len(failed.stderr.strip().splitlines()) == 1
    assert "no mirror served a usable index" in failed.stderr


URIS = st.lists(st.builds("https://m{}.example.org/x86_64/stone.index".format,
                          st.integers(0, 99)), min_size=1, max_size=4, unique=True)


@settings(max_examples=25, deadline=None)
@given(uris=URIS, penalized=st.lists(st.integers(0, 4), max_size=4, unique=True))
def test_order_is_configured_order_with_penalized_mirrors_last(
        tmp_path_factory: pytest.TempPathFactory, uris: list[str], penalized: list[int]) -> None:
    target = tmp_path_factory.mktemp("mirrors")
    held = [uris[i] for i in penalized if i < len(uris)]
    for number, url in enumerate(held):
        mirrors.penalize(target, url, "down", now=1000.0 + number)
    order = mirrors.order(target, uris, now=1000.0)
    assert sorted(order) == sorted(uris)
    assert order == [u for u in uris if u not in held] + held
    # After the penalties run out, the configured order again.
    assert mirrors.order(target, uris, now=1000.0 + 2 * mirrors.MAX_PENALTY) == uris
    if held:
        mirrors.record_answer(target, held[0])
        assert held[0] not in mirrors.load(target).penalties


@settings(max_examples=25, deadline=None)
@given(uris=URIS)
def test_mirrors_survive_both_file_formats(
        tmp_path_factory: pytest.TempPathFactory, uris: list[str]) -> None:
    """Written as KDL or YAML and read back, a repository keeps its mirrors in order
    (real moss's reader sees an unknown ``mirrors`` field, which serde skips)."""
    from moss.repo.config import _encode, _read_file

    repo = Repository("main", "https://cdn.example.org/stone.index", mirrors=tuple(uris[1:]))
    folder = tmp_path_factory.mktemp("config")
    for name in ("main.kdl", "main.yaml"):
        path = folder / name
        path.write_bytes(_encode(path, {"main": repo}))
        assert _read_file(folder, path)["main"] == repo
    if repo.mirrors:
        assert "mirrors" in kdl.dumps([repo.to_kdl()])
        assert yaml.safe_load((folder / "main.yaml").read_text())["main"]["mirrors"] == uris[1:]


def test_a_package_missing_from_the_mirror_that_answered_comes_from_the_next(
        nginx: Nginx, tmp_path: Path) -> None:
    release = release_folder(tmp_path, 1)
    for folder in ("a", "b"):
        for path in (p for p in release.iterdir() if p.is_file()):
            nginx.publish(f"{folder}/{path.name}", path.read_bytes())
    root = tmp_path / "root"
    first, second = nginx.url("a/stone.index"), nginx.url("b/stone.index")
    assert moss(root, "repo", "add", "main", first, "--mirror", second).returncode == 0
    assert moss(root, "repo", "update").returncode == 0
    package = next(release.glob("hello-*.stone"))
    (nginx.www / "a" / package.name).unlink()  # a mirror half-way through a sync
    nginx.clear_log()
    out = tmp_path / "out"
    fetched = moss(root, "fetch", "hello", "-o", str(out))
    assert fetched.returncode == 0, fetched.stderr
    assert [p.read_bytes() for p in out.iterdir()] == [package.read_bytes()]
    assert [(hit.path.split("/")[1], hit.status) for hit in nginx.hits()] == [
        ("a", 404), ("b", 200)]
