"""The subpackage toggles' rule, over generated selections, requests and toggles.

One repository (served by file://) offers base packages, some with ``-devel``,
``-docs`` or ``-dbginfo``; each ``-<suffix>`` depends on its base, as boulder's do.
For any installed selection (some subpackages already there, explicit or not),
any request (install or remove names) and any set of active suffixes, the
resolved state must hold: every base P in it brings each offered ``P-<s>`` of an
active suffix; no implicit ``P-<s>`` stays whose suffix is off or whose P went;
what the user asked for by name stays unless removed (it or its base).  Removing
a ``P-<s>`` by name while ``s`` is on (and P stays) is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.cli import main
from moss.core.errors import MossError
from moss.planning.request import Request, offered_names, resolve_request
from moss.planning.selection import Selected
from moss.repo import metaquery
from moss.repo.config import cache_dir, load_repositories
from moss.repo.index import load_offers
from moss.repo.metadb import DB_NAME
from moss.stone import PackageMeta
from moss.stonetools.index import build_index
from tests.support.packages import make_package

SUFFIXES = ["devel", "docs", "dbginfo"]
OFFERED = {"alpha": ["devel", "docs"], "beta": ["devel"], "gamma": ["docs", "dbginfo"],
           "delta": [], "eps": ["devel", "docs", "dbginfo"]}
BASES = sorted(OFFERED)


@pytest.fixture(scope="module")
def repo_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, PackageMeta]]:
    work = tmp_path_factory.mktemp("subpackages")
    pool = work / "served"
    pool.mkdir()
    for base, suffixes in OFFERED.items():
        make_package(work, base, {f"bin/{base}": "#!/bin/sh\n"}).rename(pool / f"{base}.stone")
        for suffix in suffixes:
            name = f"{base}-{suffix}"
            make_package(work, name, {f"share/{name}/x": name},
                         depends=(base,)).rename(pool / f"{name}.stone")
    build_index(pool)
    root = work / "root"
    assert main(["-D", str(root), "-y", "--quiet", "repo", "add", "main",
                 (pool / "stone.index").as_uri()]) == 0
    assert main(["-D", str(root), "-y", "--quiet", "repo", "update"]) == 0
    metas = {o.meta.name: o.meta for o in load_offers(root, load_repositories(root))}
    return root, metas


@st.composite
def situations(draw: st.DrawFn) -> tuple[dict[str, bool], list[str], list[str], list[str]]:
    """(installed name -> explicit, names to install, names to remove, active suffixes)."""
    installed: dict[str, bool] = {}
    for base in draw(st.lists(st.sampled_from(BASES), unique=True)):
        installed[base] = draw(st.booleans()) or True  # a base is what the user chose
        for suffix in OFFERED[base]:
            if draw(st.integers(0, 3)) == 0:
                installed[f"{base}-{suffix}"] = draw(st.booleans())
    candidates = ([b for b in BASES if b not in installed]
                  + [f"{b}-{s}" for b in BASES for s in OFFERED[b] if f"{b}-{s}" not in installed])
    install = draw(st.lists(st.sampled_from(candidates), unique=True, max_size=2)
                   ) if candidates else []
    # One command asks for one or the other: `moss install` or `moss remove`.
    remove = draw(st.lists(st.sampled_from(sorted(installed)), unique=True, max_size=1)
                  ) if installed and not install else []
    suffixes = draw(st.lists(st.sampled_from(SUFFIXES), unique=True))
    return installed, install, remove, suffixes


@settings(max_examples=60, deadline=None)
@given(situations())
def test_each_package_brings_its_subpackages_while_the_toggle_is_on(
        repo_root: tuple[Path, dict[str, PackageMeta]],
        situation: tuple[dict[str, bool], list[str], list[str], list[str]]) -> None:
    root, metas = repo_root
    installed, install, remove, suffixes = situation
    current = {n: Selected(metas[n].hash or n, metas[n], explicit) for n, explicit
               in installed.items()}
    request = Request(root=root, current=current, names=install, remove=remove,
                      subpackages=suffixes)
    kept_by_toggle = [n for n in remove if n.partition("-")[2] in suffixes]
    if kept_by_toggle:  # it would come back at the next transaction: refused instead
        with pytest.raises(MossError, match=f"{kept_by_toggle[0]} comes with"):
            resolve_request(request)
        return
    wanted = resolve_request(request)
    result = {n for n in current if n not in wanted.remove}
    result |= {s.meta.name for s in wanted.install}
    explicit = {n for n, e in installed.items() if e and n not in remove} | set(install)

    removed_bases = set(remove)
    for name in result:
        base, _, suffix = name.partition("-")
        if suffix:
            assert base in result, f"{name} without {base}"
            if name not in explicit:
                assert suffix in suffixes, f"{name} stayed with {suffix} off"
    for base in result & set(BASES):
        for suffix in suffixes:
            if suffix in OFFERED[base]:
                assert f"{base}-{suffix}" in result, f"{base} came without its -{suffix}"
    for name in explicit:
        base = name.partition("-")[0]
        if base not in removed_bases:
            assert name in result, f"{name}, asked for by name, went"


def test_offered_names_read_the_meta_database_or_else_the_index(
        repo_root: tuple[Path, dict[str, PackageMeta]], tmp_path: Path) -> None:
    root, _metas = repo_root
    asked = ["alpha-devel", "beta-docs", "delta-devel", "eps-dbginfo", "nonesuch"]
    assert offered_names(root, asked) == {"alpha-devel", "eps-dbginfo"}
    # Without the database (real moss's, or a stale one) the index answers the same.
    [repo] = load_repositories(root)
    db = cache_dir(root, repo) / DB_NAME
    db.rename(tmp_path / "db-away")
    try:
        assert metaquery.offered_among(root, [repo], asked) is None
        assert offered_names(root, asked) == {"alpha-devel", "eps-dbginfo"}
    finally:
        (tmp_path / "db-away").rename(db)
