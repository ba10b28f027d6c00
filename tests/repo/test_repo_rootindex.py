"""Real moss's versioned repositories over real HTTP: a ``moss-root-index.json`` (format v0)
names the history whose ``stone.index`` a ``stream/``, ``tag/`` or ``history/`` version means."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from moss.cli import main
from moss.core import kdl
from moss.repo.config import get_repository
from moss.repo.index import index_path
from moss.stonetools.index import build_index
from tests.repo.test_repo_endtoend import serve_directory
from tests.repo.test_repo_httpserver import Site, site
from tests.support.packages import make_package

__all__ = ["site"]


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def root_index(streams: dict[str, str], history: dict[str, str],
               upgrade_via: str | None = None) -> bytes:
    """A root index shaped as real moss's root_index.rs test: formats, streams, tags, history."""
    v0 = {"upgrade_via": upgrade_via} if upgrade_via else {}
    return json.dumps({
        "formats": {"v0": v0, "v1": {"some_future_v1_key": True}},
        "streams": {name: {"format": history[h], "history": h} for name, h in streams.items()},
        "tags": {"v0-final": {"format": "v0", "history": "1"}},
        "history": {h: {"format": fmt} for h, fmt in history.items()},
    }, indent=2).encode()


def publish_history(tmp_path: Path, site: Site, ident: str, hello: str) -> None:
    """``BASE/main/history/ID/x86_64/stone.index`` and its packages, served."""
    served = tmp_path / f"history-{ident}"
    pool = served / "pool"
    pool.mkdir(parents=True)
    pkg = make_package(tmp_path / f"work-{ident}", "hello", {"bin/hello": hello},
                       release=int(ident))
    shutil.move(pkg, pool / pkg.name)
    build_index(served)
    serve_directory(site, served, f"aeryn/main/history/{ident}/x86_64")


@pytest.fixture
def versioned(tmp_path: Path, site: Site) -> Path:
    publish_history(tmp_path, site, "1", "hello 1\n")
    publish_history(tmp_path, site, "2", "hello 2\n")
    site.files["/aeryn/main/moss-root-index.json"] = root_index(
        {"unstable": "1"}, {"1": "v0", "2": "v0"})
    root = tmp_path / "root"
    (root / "etc/moss/repo.d").mkdir(parents=True)
    # As real moss's config crate saves a root-index repository (KDL, serde field names).
    (root / "etc/moss/repo.d/unstable.kdl").write_text(
        'unstable {\n    description "AerynOS unstable"\n'
        f'    base-uri "{site.url("/aeryn/")}"\n    channel main\n'
        '    version "stream/unstable"\n    arch x86_64\n    priority 0\n    active #true\n}\n')
    return root


def test_stream_resolves_to_its_history_and_follows_it(versioned: Path, site: Site) -> None:
    root = versioned
    assert moss(root, "repo", "update") == 0
    repo = get_repository(root, "unstable")
    assert repo.uri == site.url("/aeryn/main/history/1/x86_64/stone.index")
    # Kept where real moss keeps it, beside the index, in real moss's folder.
    assert (index_path(root, repo).parent / "index-uri").read_text() == repo.uri
    assert moss(root, "install", "hello") == 0
    assert (root / "usr/bin/hello").read_text() == "hello 1\n"

    # The stream moves on to history 2: update and sync follow it.
    site.files["/aeryn/main/moss-root-index.json"] = root_index(
        {"unstable": "2"}, {"1": "v0", "2": "v0"})
    assert moss(root, "repo", "update") == 0
    assert moss(root, "sync") == 0
    assert (root / "usr/bin/hello").read_text() == "hello 2\n"


def test_unsupported_format_is_refused_with_the_upgrade_path(
        versioned: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    root = versioned
    assert moss(root, "repo", "update") == 0
    kept = index_path(root, get_repository(root, "unstable")).read_bytes()
    site.files["/aeryn/main/moss-root-index.json"] = root_index(
        {"unstable": "3"}, {"1": "v0", "2": "v0", "3": "v1"}, upgrade_via="tag/v0-final")
    capsys.readouterr()
    assert moss(root, "repo", "update") == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "'v1'" in err and "tag/v0-final" in err
    assert index_path(root, get_repository(root, "unstable")).read_bytes() == kept


@pytest.mark.parametrize("body", [b"<html>not json</html>", b'{"streams": {}}',
                                  json.dumps({"history": {}, "streams": {}}).encode()])
def test_bad_or_missing_root_index_is_one_line(
        versioned: Path, site: Site, capsys: pytest.CaptureFixture[str], body: bytes) -> None:
    site.files["/aeryn/main/moss-root-index.json"] = body
    capsys.readouterr()
    assert moss(versioned, "repo", "update") == 1
    err = capsys.readouterr().err
    assert (len(err.strip().splitlines()) == 1 and "unstable" in err) or "root index" in err


def test_repo_add_root_index_writes_real_moss_s_kdl(
        tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    publish_history(tmp_path, site, "1", "hello 1\n")
    site.files["/aeryn/testing/moss-root-index.json"] = root_index({}, {"1": "v0"})
    site.files.update({k.replace("/main/", "/testing/"): v for k, v in site.files.items()})
    root = tmp_path / "root"
    assert moss(root, "repo", "add", "t", site.url("/aeryn"), "--root-index",
                "channel=testing,version=history/1") == 0
    data = kdl.to_data(kdl.read(root / "etc/moss/repo.d/t.kdl"))
    assert data == {"t": {"description": "", "base-uri": site.url("/aeryn"),
                          "channel": "testing", "version": "history/1", "arch": "x86_64",
                          "priority": 0, "active": True}}
    assert moss(root, "repo", "update") == 0
    assert moss(root, "install", "hello") == 0
    capsys.readouterr()
    assert moss(root, "repo", "add", "u", site.url("/aeryn"), "--root-index", "channel=x") == 1
    assert "version" in capsys.readouterr().err
