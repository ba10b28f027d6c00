"""Real moss's system model: decoded and encoded as it does, exported from a state, and
imported on another root to the same selection (how a fleet shares one file)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from moss.cli import main
from moss.planning.sysmodel import decode, encode
from moss.repo.config import Repository
from moss.repo.rootindex import RootIndexSource
from moss.stonetools.index import build_index
from tests.repo.test_repo_endtoend import serve_directory
from tests.repo.test_repo_httpserver import Site, site
from tests.support.packages import make_package, tree_snapshot

__all__ = ["site"]

# real moss: moss/src/system_model/decode.rs, test_decode_kdl
REAL_DECODE = """
    repositories {
        volatile {
            description "where the build infra lands freshly built packages"
            base-uri "https://build.aerynos.dev/"
            version "stream/volatile"
            priority 10
        }
        local {
            description "my locally built packages"
            uri "file:///path/to/my/stone.index"
            priority 1
            enabled #false
        }
    }
    packages {
        foo
        bar-test {
            why "foo"
        }
        "binary(cc)"
        "pkgconfig(zlib)" {
            why "bar"
        }
    }
"""

# real moss: moss/src/system_model/encode.rs, test_encode (byte for byte)
REAL_ENCODE = """\
repositories {
    bar {
        description testing
        base-uri "https://test.dev/"
        channel testing
        version "tag/test-this"
        arch aarch64
        priority 10
    }
    disabled {
        description disabled
        uri "https://test2.dev/index.stone"
        priority 2
        enabled #false
    }
    foo {
        description test
        base-uri "https://test.dev/"
        version "stream/unstable"
        priority 1
    }
}
packages {
    abc
    xyz
    "pkgconfig(abc)"
    "soname(abc.so)"
    "soname(abc.so.1)"
}
"""


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def test_decode_real_moss_example() -> None:
    model = decode(REAL_DECODE)
    assert model.packages == ["foo", "bar-test", "binary(cc)", "pkgconfig(zlib)"]
    volatile, local = model.repositories
    assert volatile.root_index == RootIndexSource("https://build.aerynos.dev/", "stream/volatile")
    assert (volatile.priority, volatile.active) == (10, True)
    assert (local.uri, local.priority, local.active) == ("file:///path/to/my/stone.index", 1,
                                                          False)


def test_encode_is_byte_for_byte_real_moss_s() -> None:
    repos = [
        Repository("foo", "", "test", 1, root_index=RootIndexSource("https://test.dev/",
                                                                     "stream/unstable")),
        Repository("disabled", "https://test2.dev/index.stone", "disabled", 2, active=False),
        Repository("bar", "", "testing", 10, root_index=RootIndexSource(
            "https://test.dev/", "tag/test-this", "testing", "aarch64")),
    ]
    names = ["abc", "soname(abc.so)", "soname(abc.so.1)", "pkgconfig(abc)", "xyz"]
    assert encode(repos, names) == REAL_ENCODE
    assert encode([], []) == "repositories\npackages\n"
    assert decode(REAL_ENCODE).packages == sorted(names, key=lambda n: (
        n if "(" in n else f"name({n})"))


def serve_repo(tmp_path: Path, site: Site) -> str:
    pool = tmp_path / "served/pool"
    pool.mkdir(parents=True)
    for pkg in (make_package(tmp_path, "hello", {"bin/hello": "hello\n"},
                             depends=("greeting-lib",)),
                make_package(tmp_path, "greeting-lib", {"share/greeting": "Hi"}),
                make_package(tmp_path, "unrelated", {"share/unrelated": "x"})):
        pkg.rename(pool / pkg.name)
    build_index(tmp_path / "served")
    serve_directory(site, tmp_path / "served", "repo")
    return site.url("/repo/stone.index")


def selection(root: Path, capsys: pytest.CaptureFixture[str]) -> list[tuple[str, str, bool]]:
    capsys.readouterr()
    assert main(["-D", str(root), "list", "installed", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    return sorted((r["name"], r["id"], r["explicit"]) for r in rows)


def export(root: Path, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert main(["-D", str(root), "state", "export", *args]) == 0
    return capsys.readouterr().out


def test_export_then_import_gives_another_root_the_same_selection(
        tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    uri = serve_repo(tmp_path, site)
    a = tmp_path / "a"
    assert moss(a, "repo", "add", "main", uri, "--priority", "5") == 0
    assert moss(a, "repo", "update") == 0
    assert moss(a, "install", "hello") == 0
    text = export(a, capsys)
    assert text == (a / "usr/lib/system-model.kdl").read_text()
    assert text == ("repositories {\n    main {\n        description \"\"\n"
                    f"        uri \"{uri}\"\n        priority 5\n    }}\n}}\npackages {{\n"
                    "    hello\n}\n")
    model = tmp_path / "fleet.kdl"
    model.write_text(text)

    # Another machine: no repository configured, a package of its own installed.
    b = tmp_path / "b"
    own = make_package(tmp_path / "own", "local-tool", {"bin/local-tool": "x"})
    assert moss(b, "install", str(own)) == 0
    assert moss(b, "sync", "--import", str(model)) == 0
    assert selection(b, capsys) == selection(a, capsys)
    assert not (b / "usr/bin/local-tool").exists()
    assert (b / "usr/bin/hello").read_text() == "hello\n"
    assert export(b, capsys) == text
    # Importing again changes nothing.
    capsys.readouterr()
    assert moss(b, "sync", "--import", str(model)) == 0
    assert "Nothing to do" in capsys.readouterr().out


def test_plain_sync_follows_etc_system_model(
        tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    uri = serve_repo(tmp_path, site)
    root = tmp_path / "root"
    assert moss(root, "repo", "add", "main", uri) == 0
    assert moss(root, "repo", "update") == 0
    assert moss(root, "install", "hello", "unrelated") == 0
    (root / "etc/moss/system-model.kdl").write_text(
        f'repositories {{\n    main {{\n        uri "{uri}"\n        priority 0\n    }}\n}}\n'
        "packages {\n    unrelated\n}\n")
    assert moss(root, "sync") == 0
    assert [n for n, _id, _e in selection(root, capsys)] == ["unrelated"]
    assert "    unrelated\n" in (root / "usr/lib/system-model.kdl").read_text()


def test_etc_system_model_s_repositories_are_the_ones_used(
        tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    """As real moss: the model's repositories, and `repo add` etc. refused with one line."""
    uri = serve_repo(tmp_path, site)
    root = tmp_path / "root"
    assert moss(root, "repo", "add", "main", uri) == 0
    (root / "etc/moss/system-model.kdl").write_text(
        f'repositories {{\n    fleet {{\n        uri "{uri}"\n        priority 3\n    }}\n}}\n'
        "packages {\n}\n")
    capsys.readouterr()
    assert main(["-D", str(root), "repo", "list", "--json"]) == 0
    assert [(r["id"], r["priority"]) for r in json.loads(capsys.readouterr().out)] == [
        ("fleet", 3)]
    assert moss(root, "repo", "update") == 0  # the model's repository is fetched
    assert moss(root, "install", "hello") == 0
    for argv in (("add", "x", uri), ("remove", "main"), ("disable", "fleet")):
        capsys.readouterr()
        assert moss(root, "repo", *argv) == 1
        err = capsys.readouterr().err
        # Real moss's notice comes first (the model is in effect), then the one error.
        *notice, error = err.strip().splitlines()
        assert notice[0].startswith("INFO: ") and "is present & therefore active" in notice[0]
        assert not any(line.startswith("moss: ") for line in notice)
        assert error.startswith("moss: error: ") and "system-model.kdl" in error


def test_export_to_a_folder_uses_real_moss_s_file_name(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert moss(root, "install", str(make_package(tmp_path, "tool", {"bin/tool": "x"}))) == 0
    out = tmp_path / "out"
    out.mkdir()
    assert main(["-D", str(root), "state", "export", "-o", str(out)]) == 0
    written = out / f"system-model-{socket.gethostname()}-fstxn-1.kdl"
    assert decode(written.read_text()).packages == ["tool"]


def test_bad_model_is_one_line_and_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert moss(root, "install", str(make_package(tmp_path, "tool", {"bin/tool": "x"}))) == 0
    before = tree_snapshot(root / "usr")
    bad = tmp_path / "bad.kdl"
    for text in ("packages {\n", 'repositories {\n    r {\n        uri "https://x/i"\n    }\n}\n',
                 "packages {\n    not-anywhere\n}\n"):
        bad.write_text(text)
        capsys.readouterr()
        assert moss(root, "sync", "--import", str(bad)) == 1
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1, err
    assert moss(root, "sync", "--import", str(tmp_path / "missing.kdl")) == 1
    assert tree_snapshot(root / "usr") == before
