"""moss index: a stone.index with each package's meta, URI, sha256 and size."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss.cli import main
from moss.stone import FileType, PackageMeta, open_stone
from moss.stonetools.pack import pack_tree


def make_package(repo: Path, rel: str, name: str, release: int) -> Path:
    tree = repo.parent / f"tree-{name}-{release}-{rel.replace('/', '_')}"
    (tree / "share" / name).mkdir(parents=True)
    (tree / "share" / name / "release").write_text(str(release))
    out = repo / rel
    out.parent.mkdir(parents=True, exist_ok=True)
    return pack_tree(tree, PackageMeta(name=name, version="1.0", release=release), out)


def test_index_lists_the_newest_release_of_each_name(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    make_package(repo, "a/hello-1.stone", "hello", 1)
    newest = make_package(repo, "b/hello-2.stone", "hello", 2)
    lib = make_package(repo, "greeting-lib-1.stone", "greeting-lib", 1)
    assert main(["index", str(repo)]) == 0
    with open_stone(repo / "stone.index") as reader:
        assert reader.file_type is FileType.REPOSITORY
        metas = {m.name: m for m in reader.repository_metas()}
    assert sorted(metas) == ["greeting-lib", "hello"]
    hello = metas["hello"]
    assert hello.release == 2
    assert hello.uri == "b/hello-2.stone"
    assert hello.hash == hashlib.sha256(newest.read_bytes()).hexdigest()
    assert hello.size == newest.stat().st_size
    assert metas["greeting-lib"].uri == "greeting-lib-1.stone"
    assert metas["greeting-lib"].size == lib.stat().st_size


def test_same_name_and_release_twice_is_an_error_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    make_package(repo, "one/hello.stone", "hello", 1)
    make_package(repo, "two/hello.stone", "hello", 1)
    assert main(["index", str(repo)]) == 1
    err = capsys.readouterr().err
    assert "one/hello.stone" in err
    assert "two/hello.stone" in err
    assert not (repo / "stone.index").exists()


def test_empty_folder_gives_the_bare_header(tmp_path: Path, stone_testdata: Path) -> None:
    assert main(["index", str(tmp_path)]) == 0
    assert (tmp_path / "stone.index").read_bytes() == (
        stone_testdata / "empty-stone.index"
    ).read_bytes()


def test_a_broken_package_stops_the_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "repo"
    make_package(repo, "hello.stone", "hello", 1)
    (repo / "junk.stone").write_bytes(b"not a stone at all, but long enough to have a header")
    assert main(["index", str(repo)]) == 1
    err = capsys.readouterr().err.strip()
    assert "junk.stone: not a .stone file" in err
    assert len(err.splitlines()) == 1


@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(releases=st.dictionaries(st.sampled_from(["hello", "zlib", "tool"]),
                                st.sets(st.integers(1, 9), min_size=1, max_size=3),
                                min_size=1))
def test_index_names_every_release_it_leaves_out_and_why(
        tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str],
        releases: dict[str, set[int]]) -> None:
    """Issue 25 item 15: three files, "2 packages", and not a word about the third."""
    repo = tmp_path_factory.mktemp("repo") / "repo"
    for name, numbers in releases.items():
        for release in numbers:
            make_package(repo, f"pool/{name}-{release}.stone", name, release)
    capsys.readouterr()
    assert main(["index", str(repo)]) == 0
    out = capsys.readouterr().out
    assert f"({len(releases)} packages)" in out
    left_out = [line for line in out.splitlines() if line.startswith("Left out ")]
    expected = sorted(f"Left out pool/{name}-{release}.stone: {name} release {release} is "
                      f"older than release {max(numbers)} (pool/{name}-{max(numbers)}.stone)"
                      for name, numbers in releases.items() for release in numbers
                      if release != max(numbers))
    assert sorted(line.split(";")[0] for line in left_out) == expected
