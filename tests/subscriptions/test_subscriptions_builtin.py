"""Issue 26's "Done when": the built-in locales, docs and devel subscriptions, through the CLI.

A root with ``LANG=de_DE.UTF-8`` in ``/etc/locale.conf`` installs, from a served
repository, packages that ship translations (gettext, man pages, GNOME help, Qt
``.qm``), documentation, and ``-devel``/``-docs`` subpackages.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from moss.actions.query import installed
from moss.cli import main
from moss.states.diff import prune_preview
from moss.stonetools.index import build_index
from tests.repo.test_repo_endtoend import serve_directory
from tests.repo.test_repo_httpserver import Site, site
from tests.support.packages import make_package

__all__ = ["site"]


# A distribution's own subscription, in the same format as the built-in toggles.
SELINUX = """\
name: selinux
description: SELinux policy, and each package's policy module
packages: [selinux-policy]
subpackages: [selinux]
"""


def translated(name: str, languages: list[str]) -> dict[str, str]:
    """A package's files: a program, its docs, and translations into ``languages``."""
    files = {f"bin/{name}": "#!/bin/sh\n",
             f"share/doc/{name}/README": f"{name} reads me\n" * 50,
             f"share/man/man1/{name}.1": f".TH {name}\n",
             f"share/help/C/{name}/index.page": "<page/>\n"}
    for lang in languages:
        files[f"share/locale/{lang}/LC_MESSAGES/{name}.mo"] = f"{name} in {lang}\n"
        files[f"share/man/{lang}/man1/{name}.1"] = f".TH {name} {lang}\n"
        files[f"share/help/{lang}/{name}/index.page"] = f"<page lang='{lang}'/>\n"
        files[f"share/qt5/translations/{name}_{lang}.qm"] = f"qm {lang}\n"
    return files


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def names(root: Path) -> list[str]:
    return sorted(p.name for p in installed(root))


def verify_clean(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert moss(root, "state", "verify", "--json") == 0
    assert json.loads(capsys.readouterr().out)["problems"] == []


def usr_files(root: Path) -> tuple[int, int]:
    """Regular files under /usr and their bytes, as du would count them."""
    files = [p for p in (root / "usr").rglob("*") if p.is_file() and not p.is_symlink()
             and p.name != ".stateID"]
    return len(files), sum(p.stat().st_size for p in files)


def listed(root: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    capsys.readouterr()
    assert moss(root, "subscription", "list", "--json") == 0
    return {s["name"]: s["toggle"] for s in json.loads(capsys.readouterr().out)}


def downloads(site: Site) -> list[str]:
    return [path for path, _range in site.requests if path.endswith(".stone")]


@pytest.fixture
def root(tmp_path: Path, site: Site) -> Path:
    pool = tmp_path / "served" / "pool"
    pool.mkdir(parents=True)
    specs = {
        "hello": translated("hello", ["de", "de_AT", "fr", "pt_BR", "sr@latin"]),
        "hello-devel": {"include/hello.h": "int hello(void);\n"},
        "hello-docs": {"share/doc/hello/manual.html": "<h1>hello</h1>\n" * 100},
        "world": translated("world", ["de", "es"]),
        "world-devel": {"include/world.h": "int world(void);\n"},
        "tool": {"bin/tool": "#!/bin/sh\n"},
        "tool-devel": {"include/tool.h": "int tool(void);\n"},
        "hello-selinux": {"share/selinux/packages/hello.pp": "policy module\n"},
        "selinux-policy": {"share/selinux/default/policy.kern": "policy\n"},
        "distro-subscriptions": {"share/moss/subscriptions.d/selinux.yaml": SELINUX},
    }
    for name, files in specs.items():
        base = name.split("-")[0]
        package = make_package(tmp_path, name, files,
                               depends=(base,) if base in specs and base != name else ())
        package.rename(pool / package.name)
    build_index(tmp_path / "served")
    serve_directory(site, tmp_path / "served", "repo")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc/locale.conf").write_text('LANG=de_DE.UTF-8\nLC_TIME="C"\n')
    assert moss(root, "repo", "add", "main", site.url("/repo/stone.index")) == 0
    assert moss(root, "repo", "update") == 0
    assert moss(root, "install", "hello") == 0
    # docs is on by default, but brings no -docs until added by name: a system taken
    # over from real moss gets no packages real moss would not install.
    assert names(root) == ["hello"]
    assert moss(root, "subscription", "add", "docs") == 0
    assert names(root) == ["hello", "hello-docs"]
    return root


def test_locales_keep_the_systems_language_and_come_back_offline(
        root: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    usr = root / "usr"
    assert names(root) == ["hello", "hello-docs"]  # docs added by name: -docs come along
    toggles = listed(root, capsys)
    # What the list says switching saves is what /usr loses: measured, not estimated.
    files, size = usr_files(root)
    assert moss(root, "subscription", "add", "locales") == 0
    after = usr_files(root)
    assert toggles["locales"] == {"action": "add", "saves_files": files - after[0],
                                  "saves_bytes": size - after[1], "packages": []}
    assert files - after[0] == 12  # fr, pt_BR, sr@latin: .mo, man page, help, .qm each
    assert sorted(p.name for p in (usr / "share/locale").iterdir()) == ["de", "de_AT"]
    assert sorted(p.name for p in (usr / "share/man").iterdir()) == ["de", "de_AT", "man1"]
    assert sorted(p.name for p in (usr / "share/help").iterdir()) == ["C", "de", "de_AT"]
    assert sorted(p.name for p in (usr / "share/qt5/translations").iterdir()) == [
        "hello_de.qm", "hello_de_AT.qm"]
    assert (usr / "bin/hello").exists() and (usr / "share/doc/hello/manual.html").exists()
    verify_clean(root, capsys)

    # Later installs are filtered the same way.
    assert moss(root, "install", "world") == 0
    assert not (usr / "share/locale/es").exists()
    assert (usr / "share/locale/de/LC_MESSAGES/world.mo").exists()
    verify_clean(root, capsys)

    # Changing the setting and refreshing follows it.
    (root / "etc/locale.conf").write_text("LANG=fr_FR.UTF-8\n")
    assert moss(root, "subscription", "refresh") == 0
    assert sorted(p.name for p in (usr / "share/locale").iterdir()) == ["fr"]

    before = downloads(site)
    assert moss(root, "subscription", "remove", "locales") == 0
    assert sorted(p.name for p in (usr / "share/locale").iterdir()) == [
        "de", "de_AT", "es", "fr", "pt_BR", "sr@latin"]
    assert (usr / "share/man/fr/man1/hello.1").read_text() == ".TH hello fr\n"
    assert downloads(site) == before  # nothing fetched: the store had every blob
    verify_clean(root, capsys)


def test_docs_off_drops_documentation_and_docs_packages(
        root: Path, site: Site, capsys: pytest.CaptureFixture[str]) -> None:
    usr = root / "usr"
    toggles = listed(root, capsys)
    files, size = usr_files(root)
    assert moss(root, "subscription", "remove", "docs") == 0
    after = usr_files(root)
    assert toggles["docs"] == {"action": "remove", "saves_files": files - after[0],
                               "saves_bytes": size - after[1], "packages": ["hello-docs"]}
    assert names(root) == ["hello"]
    for gone in ("share/doc", "share/man", "share/help"):
        assert not (usr / gone).exists(), gone
    assert (usr / "share/locale/fr/LC_MESSAGES/hello.mo").exists()
    verify_clean(root, capsys)
    # A later install brings no -docs and no documentation.
    assert moss(root, "install", "world") == 0
    assert names(root) == ["hello", "world"]
    assert not (usr / "share/doc").exists()

    before = downloads(site)
    assert moss(root, "subscription", "add", "docs") == 0
    assert names(root) == ["hello", "hello-docs", "world"]  # world offers no -docs
    assert (usr / "share/doc/hello/manual.html").exists()
    assert (usr / "share/man/de/man1/world.1").exists()
    assert downloads(site) == before  # hello-docs came from the package cache
    verify_clean(root, capsys)


def test_devel_brings_each_packages_devel_now_and_later(
        root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usr = root / "usr"
    assert moss(root, "install", "world", "tool-devel") == 0  # tool-devel: asked by name
    assert listed(root, capsys)["devel"] == {"action": "add", "saves_files": 0,
                                             "saves_bytes": 0,
                                             "packages": ["hello-devel", "world-devel"]}
    assert moss(root, "subscription", "add", "devel") == 0
    assert names(root) == ["hello", "hello-devel", "hello-docs", "tool", "tool-devel",
                           "world", "world-devel"]
    assert (usr / "include/world.h").exists()
    assert moss(root, "remove", "tool", "tool-devel") == 0
    assert moss(root, "install", "tool") == 0  # a later install brings its -devel
    assert "tool-devel" in names(root)
    # Removing one -devel alone would last until the next transaction: refused.
    capsys.readouterr()
    assert moss(root, "remove", "tool-devel") == 1
    err = capsys.readouterr().err
    assert "tool-devel comes with tool while the subscription bringing every -devel is on" \
        in err and err.count("\n") == 1
    assert "tool-devel" in names(root)
    # Removing a package removes its -devel, and leaves the others' alone.
    assert moss(root, "remove", "world") == 0
    assert "world-devel" not in names(root) and not (usr / "include/world.h").exists()
    assert "hello-devel" in names(root)
    verify_clean(root, capsys)
    # Off removes them, except one the user asked for by name: before (world-devel,
    # new) or after the subscription brought it (hello-devel, there already).
    assert moss(root, "install", "world", "world-devel") == 0
    capsys.readouterr()
    assert moss(root, "install", "hello-devel") == 0
    assert "keep     hello-devel-1.0-1 (asked for by name" in capsys.readouterr().out
    assert moss(root, "subscription", "remove", "devel") == 0
    assert names(root) == ["hello", "hello-devel", "hello-docs", "tool", "world",
                           "world-devel"]
    verify_clean(root, capsys)


def store(root: Path) -> tuple[int, int]:
    """Blobs in the store and their bytes."""
    blobs = [p for p in (root / ".moss/assets").rglob("*") if p.is_file()]
    return len(blobs), sum(p.stat().st_size for p in blobs)


def test_culled_files_leave_the_store_and_come_back_from_cache_then_repository(
        root: Path, site: Site, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    usr = root / "usr"
    full = store(root)
    files, size = usr_files(root)
    assert moss(root, "subscription", "add", "locales") == 0
    culled = (files - usr_files(root)[0], size - usr_files(root)[1])
    assert store(root) == full  # states 1 and 2 still have every translation
    assert prune_preview(root, 1) == ([1, 2], culled[1])  # what prune says it frees
    assert moss(root, "state", "prune", "--keep", "1") == 0
    assert store(root) == (full[0] - culled[0], full[1] - culled[1])
    verify_clean(root, capsys)
    # An ephemeral root (--to) has every path, whatever this root's subscriptions.
    assert moss(root, "install", "hello", "--to", str(tmp_path / "eph")) == 0
    assert (tmp_path / "eph/usr/share/locale/fr/LC_MESSAGES/hello.mo").read_text() == \
        "hello in fr\n"

    # Back on: from the cached packages, nothing downloaded.
    before = downloads(site)
    assert moss(root, "subscription", "remove", "locales") == 0
    assert (usr / "share/locale/fr/LC_MESSAGES/hello.mo").read_text() == "hello in fr\n"
    assert store(root) == full and downloads(site) == before
    verify_clean(root, capsys)

    # Culled again and the cache gone: only the package holding them is fetched.
    assert moss(root, "subscription", "add", "locales") == 0
    assert moss(root, "state", "prune", "--keep", "1") == 0
    (root / ".moss/cache").rename(tmp_path / "cache-gone")
    assert moss(root, "subscription", "remove", "locales") == 0
    fetched = downloads(site)[len(before):]
    assert len(fetched) == 1 and fetched[0].endswith("/hello-1.0-1.stone")
    assert (usr / "share/man/pt_BR/man1/hello.1").read_text() == ".TH hello pt_BR\n"
    verify_clean(root, capsys)


def test_a_distribution_adds_its_own_toggle(root: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert moss(root, "install", "distro-subscriptions") == 0
    assert listed(root, capsys)["selinux"]["packages"] == ["hello-selinux"]
    assert moss(root, "subscription", "add", "selinux") == 0
    assert names(root) == ["distro-subscriptions", "hello", "hello-docs", "hello-selinux",
                           "selinux-policy"]
    assert (root / "usr/share/selinux/packages/hello.pp").exists()
    assert moss(root, "subscription", "remove", "selinux") == 0
    assert names(root) == ["distro-subscriptions", "hello", "hello-docs"]
    verify_clean(root, capsys)
