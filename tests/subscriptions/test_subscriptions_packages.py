"""A subscription that adds packages: they come from the repositories with the new state."""

from __future__ import annotations

from pathlib import Path

from moss.actions.query import installed
from moss.cli import main
from moss.stonetools.index import build_index
from tests.repo.test_repo_endtoend import serve_directory
from tests.repo.test_repo_httpserver import Site, site
from tests.support.packages import make_package

__all__ = ["site"]

EXTRAS = """\
name: extras
description: The extra tools
packages: [binary(extra)]
"""


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def test_adding_a_subscription_installs_its_packages(tmp_path: Path, site: Site) -> None:
    served = tmp_path / "served"
    (served / "pool").mkdir(parents=True)
    extra = make_package(tmp_path, "extra-tools", {"bin/extra": "#!/bin/sh\n"},
                         provides=("binary(extra)",))
    extra.rename(served / "pool" / extra.name)
    build_index(served)
    serve_directory(site, served, "repo")
    root = tmp_path / "root"
    assert moss(root, "repo", "add", "main", site.url("/repo/stone.index")) == 0
    assert moss(root, "repo", "update") == 0
    definitions = make_package(tmp_path, "distro-subscriptions",
                               {"share/moss/subscriptions.d/extras.yaml": EXTRAS})
    assert moss(root, "install", str(definitions)) == 0
    assert not (root / "usr/bin/extra").exists()

    assert moss(root, "subscription", "add", "extras") == 0
    assert (root / "usr/bin/extra").read_text() == "#!/bin/sh\n"
    assert (root / "usr/.stateID").read_text() == "2"
    # Once the provider is there, later transactions ask for nothing more.
    assert moss(root, "subscription", "refresh") == 0
    assert (root / "usr/.stateID").read_text() == "3"
    # What a subscription brought in is not the user's choice: it goes with it.
    assert {p.name: p.explicit for p in installed(root)} == {
        "distro-subscriptions": True, "extra-tools": False}
    assert moss(root, "subscription", "remove", "extras") == 0
    assert not (root / "usr/bin/extra").exists()
    assert [p.name for p in installed(root)] == ["distro-subscriptions"]
    # Rolling back brings the subscription's package back, offline.
    assert moss(root, "state", "activate", "3") == 0
    assert (root / "usr/bin/extra").read_text() == "#!/bin/sh\n"
