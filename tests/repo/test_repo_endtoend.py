"""Real packages made by ``moss pack``, indexed by ``moss index``, served over HTTP:
update, resolve, fetch into the cache, and the cached files read back as packages."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from moss.core.errors import MossError
from moss.planning.resolve import Catalog, install
from moss.repo.cache import fetch_packages
from moss.repo.config import add_repository, load_repositories
from moss.repo.fetch import FetchOptions
from moss.repo.index import downloads_for, load_offers, update_repository
from moss.stone import Dependency, PackageMeta, open_stone
from moss.stonetools.index import build_index
from moss.stonetools.pack import pack_tree
from tests.repo.test_repo_httpserver import Site, site

__all__ = ["site"]

QUICK = FetchOptions(timeout=2.0, retries=1, backoff=0.01)
LIBGREET = "soname(libgreet.so.1(x86_64))"


def make_package(
    out_dir: Path, name: str, depends: list[str], provides: list[str], release: int = 1
) -> Path:
    tree = out_dir / f"tree-{name}-{release}"
    (tree / "share" / name).mkdir(parents=True)
    (tree / "share" / name / "README").write_text(f"{name} release {release}\n")
    meta = PackageMeta(
        name=name,
        version="1.0",
        release=release,
        depends=[Dependency.parse(d) for d in depends],
        provides=[Dependency.parse(p) for p in provides],
    )
    pool = out_dir / "served" / "pool"
    pool.mkdir(parents=True, exist_ok=True)
    return pack_tree(tree, meta, pool / f"{name}-{release}.stone")


def serve_directory(site: Site, directory: Path, prefix: str) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            site.files[f"/{prefix}/{path.relative_to(directory).as_posix()}"] = path.read_bytes()


def test_install_from_a_served_repository(site: Site, tmp_path: Path) -> None:
    make_package(tmp_path, "hello", ["greeting-lib"], [])
    make_package(tmp_path, "greeting-lib", [LIBGREET], [])
    make_package(tmp_path, "libgreet", [], [LIBGREET], release=1)
    make_package(tmp_path, "libgreet", [], [LIBGREET], release=2)
    make_package(tmp_path, "unrelated", [], [])
    build_index(tmp_path / "served")
    serve_directory(site, tmp_path / "served", "repo")

    root = tmp_path / "root"
    add_repository(root, "main", site.url("repo/stone.index"))
    repos = load_repositories(root)
    assert update_repository(root, repos[0], options=QUICK) == 4

    plan = install([], set(), Catalog(load_offers(root, repos)), ["hello"])
    assert sorted((o.meta.name, o.meta.release) for o in plan.add) == [
        ("greeting-lib", 1),
        ("hello", 1),
        ("libgreet", 2),
    ]
    cache = root / ".moss" / "cache"
    paths = fetch_packages(downloads_for(repos, plan.add), cache, options=QUICK)
    for offer in plan.add:
        assert offer.meta.hash is not None
        with open_stone(paths[offer.meta.hash]) as reader:
            assert reader.package_meta().name == offer.meta.name


def test_package_changed_on_the_server_is_refused(site: Site, tmp_path: Path) -> None:
    make_package(tmp_path, "hello", [], [])
    build_index(tmp_path / "served")
    serve_directory(site, tmp_path / "served", "repo")
    root = tmp_path / "root"
    add_repository(root, "main", site.url("repo/stone.index"))
    repos = load_repositories(root)
    update_repository(root, repos[0], options=QUICK)
    # The mirror now serves a different file under the indexed name.
    site.files["/repo/pool/hello-1.stone"] = b"tampered"
    plan = install([], set(), Catalog(load_offers(root, repos)), ["hello"])
    with pytest.raises(MossError, match=r"pool/hello-1\.stone: expected \d+ bytes, got 8"):
        fetch_packages(downloads_for(repos, plan.add), root / "cache", options=QUICK)
    assert not any(p.is_file() for p in (root / "cache").rglob("*"))


@pytest.mark.parametrize(
    "uri", ["file:///etc/passwd", "http://elsewhere.example/hello.stone", "ftp://x/hello.stone",
            "//127.0.0.2/hello.stone"],
)
def test_a_remote_index_names_packages_on_its_own_server_only(
    site: Site, tmp_path: Path, uri: str
) -> None:
    make_package(tmp_path, "hello", [], [])
    build_index(tmp_path / "served")
    serve_directory(site, tmp_path / "served", "repo")
    root = tmp_path / "root"
    add_repository(root, "main", site.url("repo/stone.index"))
    repos = load_repositories(root)
    update_repository(root, repos[0], options=QUICK)
    offers = [
        dataclasses.replace(o, meta=dataclasses.replace(o.meta, uri=uri))
        for o in load_offers(root, repos)
    ]
    with pytest.raises(MossError, match="outside its own server"):
        downloads_for(repos, offers)
    relative = [dataclasses.replace(o, meta=dataclasses.replace(o.meta, uri="/repo/pool/x"))
                for o in offers]
    assert downloads_for(repos, relative)[0].url == site.url("repo/pool/x")
