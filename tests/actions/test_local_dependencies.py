"""A local `.stone` brings its dependencies from the repositories, as `apt install ./x.deb`
does, and a state whose dependencies are not all met is never built (issue 25 item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss.cli import main
from moss.stonetools.index import build_index
from tests.support.packages import make_package

NAMES = ("liba", "libb", "libc", "libd")


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def soname(name: str) -> str:
    return f"soname({name}.so.1(x86_64))"


def installed(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, bool]:
    capsys.readouterr()
    assert moss(root, "list", "installed", "--json") == 0
    return {p["name"]: p["explicit"] for p in json.loads(capsys.readouterr().out)}


def needed(wants: list[str], depends: dict[str, list[str]], offered: set[str]) -> set[str]:
    """What installing a package that needs ``wants`` must bring from the repository."""
    found: set[str] = set()
    todo = list(wants)
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo += depends[name] if name in offered else []
    return found


universe = st.fixed_dictionaries({
    "offered": st.sets(st.sampled_from(NAMES)),
    "depends": st.fixed_dictionaries({n: st.lists(st.sampled_from(NAMES), max_size=2,
                                                  unique=True) for n in NAMES}),
    "wants": st.lists(st.sampled_from(NAMES), min_size=1, max_size=3, unique=True),
    "by_soname": st.booleans(),
})


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=universe)
def test_a_local_package_brings_what_it_needs_or_is_refused(
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
        case: dict[str, object]) -> None:
    offered, depends = case["offered"], case["depends"]
    wants, by_soname = case["wants"], case["by_soname"]
    assert isinstance(offered, set) and isinstance(depends, dict) and isinstance(wants, list)
    work = tmp_path_factory.mktemp("local")
    repo = work / "repo"
    repo.mkdir()
    for name in sorted(offered):
        make_package(repo, name, {f"lib/{name}.so.1": name}, provides=(soname(name),),
                     depends=tuple(soname(d) if by_soname else d for d in depends[name]))
    build_index(repo)
    root = work / "root"
    assert moss(root, "repo", "add", "main", (repo / "stone.index").as_uri()) == 0
    local = make_package(work, "hello", {"bin/hello": "hello\n"},
                         depends=tuple(soname(w) if by_soname else w for w in wants))
    capsys.readouterr()
    status = moss(root, "install", str(local))
    err = capsys.readouterr().err
    brought = needed(wants, depends, offered)
    if brought <= offered:
        assert status == 0, err
        assert installed(root, capsys) == {"hello": True, **{n: False for n in brought}}
        # The next plans work: nothing the state holds lacks a provider.
        assert moss(root, "sync", "--dry-run") == 0
        assert moss(root, "remove", "hello") == 0
        assert installed(root, capsys) == {}
    else:
        assert status == 1
        lines = err.strip().splitlines()
        assert len(lines) == 1 and "nothing" in lines[0] and "provides" in lines[0], err
        assert not (root / "usr/bin/hello").exists()
        assert installed(root, capsys) == {}


def test_without_any_repository_an_unmet_local_dependency_is_refused(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    local = make_package(tmp_path, "hello", {"bin/hello": "hello\n"},
                         depends=(soname("libgreet"),))
    assert moss(root, "install", str(local)) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "soname(libgreet.so.1(x86_64))" in err
    assert not root.exists()  # a failed install into a new root leaves nothing
    # Both files at once: the second provides what the first needs.
    lib = make_package(tmp_path, "libgreet", {"lib/libgreet.so.1": "x"},
                       provides=(soname("libgreet"),))
    assert moss(root, "install", str(local), str(lib)) == 0
    assert installed(root, capsys) == {"hello": True, "libgreet": True}
