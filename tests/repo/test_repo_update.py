"""``repo update`` and package fetching against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from moss.core.errors import MossError
from moss.repo.cache import Download, cached_path, fetch_packages
from moss.repo.config import Repository, add_repository, get_repository, load_repositories
from moss.repo.fetch import FetchOptions
from moss.repo.index import downloads_for, index_path, load_offers, update_repository
from moss.stone import Dependency, PackageMeta, write_repository_index
from tests.repo.test_repo_httpserver import Behaviour, Site, site
from tests.repo.test_repo_signature import make_key, sign

__all__ = ["site"]

QUICK = FetchOptions(timeout=2.0, retries=1, backoff=0.01)


def publish(site: Site, tmp_path: Path, packages: dict[str, bytes]) -> bytes:
    """Serve ``packages`` under /pool/ and an index naming them; returns the index bytes."""
    metas = []
    for name, body in packages.items():
        site.files[f"/repo/pool/{name}.stone"] = body
        metas.append(
            PackageMeta(
                name=name,
                version="1.0",
                release=1,
                depends=[Dependency.parse("soname(libc.so.6(x86_64))")],
                uri=f"pool/{name}.stone",
                hash=hashlib.sha256(body).hexdigest(),
                size=len(body),
            )
        )
    out = tmp_path / f"index-{len(site.files)}"
    write_repository_index(out, metas)
    data = out.read_bytes()
    site.files["/repo/stone.index"] = data
    return data


def test_update_fetches_index_and_offers_its_packages(site: Site, tmp_path: Path) -> None:
    root = tmp_path / "root"
    publish(site, tmp_path, {"hello": b"hello package", "greet": b"greet package"})
    repo = add_repository(root, "main", site.url("repo/stone.index"), priority=5)
    assert update_repository(root, repo, options=QUICK) == 2
    offers = load_offers(root, load_repositories(root))
    assert sorted(o.meta.name for o in offers) == ["greet", "hello"]
    assert {(o.repository, o.priority) for o in offers} == {("main", 5)}
    assert str(offers[0].meta.depends[0]) == "soname(libc.so.6(x86_64))"


def test_failed_update_keeps_previous_index(site: Site, tmp_path: Path) -> None:
    root = tmp_path / "root"
    first = publish(site, tmp_path, {"hello": b"v1"})
    repo = add_repository(root, "main", site.url("repo/stone.index"))
    update_repository(root, repo, options=QUICK)
    # A broken index, then a vanished one: both refused, the old one stays.
    site.files["/repo/stone.index"] = b"this is not a stone index"
    with pytest.raises(MossError, match="not a valid repository index"):
        update_repository(root, repo, options=QUICK)
    assert index_path(root, get_repository(root, "main")).read_bytes() == first
    del site.files["/repo/stone.index"]
    with pytest.raises(MossError, match=r"stone\.index: 404"):
        update_repository(root, repo, options=QUICK)
    kept = index_path(root, get_repository(root, "main"))
    assert kept.read_bytes() == first
    assert sorted(p.name for p in kept.parent.iterdir()) == ["db", "stone.index"]


def test_signed_repository(site: Site, tmp_path: Path) -> None:
    if shutil.which("minisign") is None:
        pytest.skip("the minisign tool is not installed")
    root = tmp_path / "root"
    keys = tmp_path / "keys"
    keys.mkdir()
    pub, sec = make_key(keys)
    data = publish(site, tmp_path, {"hello": b"v1"})
    signed_file = tmp_path / "stone.index"
    signed_file.write_bytes(data)
    repo = add_repository(root, "main", site.url("repo/stone.index"), key=str(pub))

    # No signature published: refused, nothing installed.
    with pytest.raises(MossError, match=r"requires a signed index.*404"):
        update_repository(root, repo, options=QUICK)
    assert not index_path(root, get_repository(root, "main")).exists()

    site.files["/repo/stone.index.minisig"] = sign(sec, signed_file).encode()
    assert update_repository(root, repo, options=QUICK) == 1

    # A new index with the old signature: refused, the verified one stays.
    publish(site, tmp_path, {"hello": b"v1", "evil": b"evil"})
    with pytest.raises(MossError, match="signature rejected: signature does not match"):
        update_repository(root, repo, options=QUICK)
    assert index_path(root, get_repository(root, "main")).read_bytes() == data


def test_packages_fetched_in_parallel_into_the_cache(site: Site, tmp_path: Path) -> None:
    root = tmp_path / "root"
    bodies = {f"pkg{i}": f"package {i} ".encode() * (1000 + i) for i in range(8)}
    publish(site, tmp_path, bodies)
    site.behaviour["/repo/pool/pkg3.stone"] = Behaviour(truncate_times=1)
    add_repository(root, "main", site.url("repo/stone.index"))
    repos = load_repositories(root)
    update_repository(root, repos[0], options=QUICK)
    offers = load_offers(root, repos)
    cache = root / ".moss" / "cache"
    paths = fetch_packages(downloads_for(repos, offers), cache, jobs=4, options=QUICK)
    for offer in offers:
        sha = offer.meta.hash
        assert sha is not None
        path = paths[sha]
        assert path == cache / "downloads" / "v1" / sha[:5] / sha[-5:] / sha
        assert path.read_bytes() == bodies[offer.meta.name]
    # Already cached: nothing is requested again.
    before = len(site.requests)
    fetch_packages(downloads_for(repos, offers), cache, options=QUICK)
    assert len(site.requests) == before


def test_wrong_package_is_refused_and_not_cached(site: Site, tmp_path: Path) -> None:
    site.files["/p.stone"] = b"what the server has"
    good = hashlib.sha256(b"what the index promised").hexdigest()
    cache = tmp_path / "cache"
    item = Download("p", site.url("p.stone"), good)
    with pytest.raises(MossError, match=r"p\.stone: sha256 .* does not match the index"):
        fetch_packages([item], cache, options=QUICK)
    assert not cached_path(cache, good).exists()
    with pytest.raises(MossError, match="invalid sha256"):
        fetch_packages([replace(item, sha256="../../etc/passwd")], cache, options=QUICK)


def test_file_repository(tmp_path: Path) -> None:
    root = tmp_path / "root"
    served = tmp_path / "served"
    served.mkdir()
    body = b"local package"
    meta = PackageMeta(
        name="local",
        version="1",
        release=1,
        uri="local.stone",
        hash=hashlib.sha256(body).hexdigest(),
        size=len(body),
    )
    (served / "local.stone").write_bytes(body)
    write_repository_index(served / "stone.index", [meta])
    repo = add_repository(root, "here", (served / "stone.index").as_uri())
    update_repository(root, repo)
    offers = load_offers(root, [repo])
    paths = fetch_packages(downloads_for([repo], offers), root / "cache")
    assert [p.read_bytes() for p in paths.values()] == [body]


def test_inactive_repository_offers_nothing(site: Site, tmp_path: Path) -> None:
    root = tmp_path / "root"
    publish(site, tmp_path, {"hello": b"x"})
    repo = add_repository(root, "main", site.url("repo/stone.index"))
    update_repository(root, repo, options=QUICK)
    assert load_offers(root, [replace(repo, active=False)]) == []
    assert isinstance(repo, Repository)


def test_cli_update_reports_counts_and_failures(
    site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.repo.test_repo_config import run_cli

    root = tmp_path / "root"
    first = publish(site, tmp_path, {"hello": b"x", "world": b"y"})
    assert run_cli(root, "ar", "main", site.url("repo/stone.index")) == 0
    assert run_cli(root, "repo", "update") == 0
    assert "main: 2 packages" in capsys.readouterr().out
    del site.files["/repo/stone.index"]
    with pytest.raises(MossError, match=r"stone\.index: 404"):
        run_cli(root, "ur", "main")
    assert index_path(root, get_repository(root, "main")).read_bytes() == first


def test_a_web_page_instead_of_an_index_says_so(site: Site, tmp_path: Path) -> None:
    """A folder's directory listing is the usual mistake: say it, name the URL, not a temp path."""
    page = b"<!DOCTYPE HTML>\n<html><body>Directory listing</body></html>"
    site.files["/repo/stone.index"] = page
    root = tmp_path / "root"
    add_repository(root, "main", site.url("repo/stone.index"))
    with pytest.raises(MossError) as caught:
        update_repository(root, load_repositories(root)[0], options=QUICK)
    message = str(caught.value)
    assert "the server returned a web page" in message
    assert site.url("repo/stone.index") in message
    assert ".update-" not in message and "magic" not in message


def test_repo_add_refuses_a_folder_and_hints_at_an_existing_name(tmp_path: Path) -> None:
    with pytest.raises(MossError, match=r"names a folder, not an index: .*/repo/stone\.index"):
        add_repository(tmp_path, "main", "https://example.org/repo/")
    add_repository(tmp_path, "main", "https://example.org/repo/stone.index")
    with pytest.raises(MossError, match=r"already exists \(https://example.org/repo/stone.index\)"
                       r"; to change it, 'moss repo remove main'"):
        add_repository(tmp_path, "main", "https://example.org/other/stone.index")
