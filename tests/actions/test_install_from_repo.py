"""`moss install NAME` from a signed repository served over real HTTP on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest

from moss.cli import main
from moss.repo.config import get_repository
from moss.repo.index import index_path
from moss.states import operations
from moss.stonetools.index import build_index
from tests.repo.test_repo_endtoend import serve_directory
from tests.repo.test_repo_httpserver import Site, site
from tests.repo.test_repo_signature import make_key, needs_minisign, sign
from tests.support.packages import make_package, tree_snapshot

__all__ = ["site"]

LIBGREET = "soname(libgreet.so.1(x86_64))"


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def publish(tmp_path: Path, site: Site, sec: Path, hello_release: int = 1) -> Path:
    """Pack, index, sign with the real minisign, and serve a small repository."""
    served = tmp_path / "served"
    pool = served / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    for pkg in (
        make_package(tmp_path, "hello", {"bin/hello": f"hello {hello_release}\n"},
                     release=hello_release, depends=("greeting-lib",)),
        make_package(tmp_path, "greeting-lib", {"share/greeting/default": "Hi"},
                     depends=(LIBGREET,)),
        make_package(tmp_path, "libgreet", {"lib/libgreet.so.1": b"\x7fELF fake"},
                     provides=(LIBGREET,)),
        make_package(tmp_path, "unrelated", {"share/unrelated": "x"}),
    ):
        pkg.rename(pool / pkg.name)
    index = build_index(served)
    sign(sec, index)
    site.files.clear()
    serve_directory(site, served, "repo")
    return served


@pytest.fixture
def signed_repo(tmp_path: Path, site: Site) -> tuple[Path, Path]:
    pub, sec = make_key(tmp_path)
    root = tmp_path / "root"
    publish(tmp_path, site, sec)
    assert moss(root, "repo", "add", "main", site.url("/repo/stone.index"),
                "--key", str(pub)) == 0
    assert moss(root, "repo", "update") == 0
    return root, sec


@needs_minisign
def test_install_by_name_resolves_providers(signed_repo: tuple[Path, Path],
                                            capsys: pytest.CaptureFixture[str]) -> None:
    root, _sec = signed_repo
    assert moss(root, "install", "--dry-run", "hello") == 0
    out = capsys.readouterr().out
    assert "hello-1.0-1" in out and "greeting-lib" in out and "libgreet" in out
    assert "unrelated" not in out
    assert not (root / "usr/bin/hello").exists()
    assert moss(root, "install", "hello") == 0
    assert (root / "usr/bin/hello").read_text() == "hello 1\n"
    assert (root / "usr/lib/libgreet.so.1").exists()
    capsys.readouterr()
    assert moss(root, "li", "--json") == 0
    import json

    listed = {p["name"]: p["explicit"] for p in json.loads(capsys.readouterr().out)}
    assert listed == {"hello": True, "greeting-lib": False, "libgreet": False}
    # Removing what was asked for takes the dependencies nothing else needs with it.
    assert moss(root, "remove", "hello") == 0
    assert not (root / "usr/lib/libgreet.so.1").exists()
    assert moss(root, "state", "verify") == 0


@needs_minisign
def test_sync_upgrades_from_the_repository(signed_repo: tuple[Path, Path], site: Site,
                                           tmp_path: Path) -> None:
    root, sec = signed_repo
    assert moss(root, "install", "hello") == 0
    publish(tmp_path / "v2", site, sec, hello_release=2)
    assert moss(root, "repo", "update") == 0
    assert moss(root, "sync") == 0
    assert (root / "usr/bin/hello").read_text() == "hello 2\n"
    assert [s.id for s in operations.list_states(root)] == [1, 2]


@needs_minisign
def test_tampered_package_is_refused_and_changes_nothing(
        signed_repo: tuple[Path, Path], site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    root, _sec = signed_repo
    path = next(p for p in site.files if p.endswith("libgreet-1.0-1.stone"))
    data = bytearray(site.files[path])
    data[-10] ^= 0xFF
    site.files[path] = bytes(data)
    before = tree_snapshot(root / "usr")
    assert moss(root, "install", "hello") == 1
    assert "sha256" in capsys.readouterr().err
    assert tree_snapshot(root / "usr") == before
    assert operations.list_states(root) == []


@needs_minisign
def test_tampered_index_is_refused_and_the_old_one_kept(
        signed_repo: tuple[Path, Path], site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    root, _sec = signed_repo
    kept = index_path(root, get_repository(root, "main")).read_bytes()
    data = bytearray(site.files["/repo/stone.index"])
    data[40] ^= 0xFF
    site.files["/repo/stone.index"] = bytes(data)
    assert moss(root, "repo", "update") == 1
    assert "signature" in capsys.readouterr().err
    assert index_path(root, get_repository(root, "main")).read_bytes() == kept
    assert moss(root, "install", "hello") == 0  # from the index that verified


@needs_minisign
def test_queries_over_repository_and_installed(signed_repo: tuple[Path, Path], site: Site,
                                               tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import json

    root, sec = signed_repo
    assert moss(root, "install", "hello") == 0
    capsys.readouterr()
    assert moss(root, "list", "available", "--json") == 0
    offered = {p["name"]: p["installed"] for p in json.loads(capsys.readouterr().out)}
    assert offered == {"hello": True, "greeting-lib": True, "libgreet": True,
                       "unrelated": False}
    assert moss(root, "search", "--json", "unrel") == 0
    assert [p["name"] for p in json.loads(capsys.readouterr().out)] == ["unrelated"]
    assert moss(root, "search-file", "--json", "libgreet.so") == 0
    assert json.loads(capsys.readouterr().out) == [
        {"package": "libgreet", "path": "/usr/lib/libgreet.so.1"}]
    assert moss(root, "search-file", "no/such/file") == 0  # as real moss: status 0, no line
    assert capsys.readouterr().out == ""
    for spelling in ("/usr/lib/libgreet", "usr/lib/libgreet", "r/lib/libgreet", "/lib/libgreet",
                     "lib/libgreet"):  # real moss drops any leading part of /usr/
        assert moss(root, "search-file", spelling) == 0
        assert capsys.readouterr().out == "/usr/lib/libgreet.so.1 from libgreet\n"
    publish(tmp_path / "v2", site, sec, hello_release=2)
    assert moss(root, "repo", "update") == 0
    capsys.readouterr()
    assert moss(root, "list", "sync", "--json") == 0
    assert json.loads(capsys.readouterr().out) == [
        {"name": "hello", "installed": "1.0-1", "available": "1.0-2", "repository": "main",
         "change": "upgrade"}]
