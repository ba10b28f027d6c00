"""Every new state's ``usr/lib/os-release`` is made from ``usr/lib/os-info.json``, as real
moss makes it, so boot entries name the real OS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from boot.config import load_config
from moss.cli import main
from moss.tree.osrelease import os_release_text
from tests.support.packages import Link, make_package, tree_snapshot

# AerynOS's os/aerynos.json (AerynOS/os-info), the parts its os-release uses.
AERYNOS = {
    "os-info-version": "0.1",
    "metadata": {
        "identity": {"id": "aerynos", "id_like": "linux", "name": "AerynOS",
                     "display": "AerynOS 0.25.1"},
        "version": {"full": "0.2025.1", "short": "0.25.1", "build_id": "2025.1"},
    },
    "resources": {"websites": {
        "homepage": {"url": "https://aerynos.com", "scope": "home"},
        "support": {"url": "https://github.com/orgs/AerynOS/discussions", "scope": "support"},
        "bugs": {"url": "https://github.com/AerynOS/issues", "scope": "bug-tracker"},
        "source": {"url": "https://github.com/AerynOS", "scope": "developer"},
        "documentation": {"url": "https://aerynos.dev/", "scope": "documentation"},
    }},
}

# What real moss writes for it (the os-info crate's OsRelease Display).
EXPECTED = """\
NAME="AerynOS"
ID="aerynos"
VERSION_ID="0.25.1"
VERSION="0.2025.1"
PRETTY_NAME="AerynOS 0.25.1"
ID_LIKE="linux"
HOME_URL="https://aerynos.com"
DOCUMENTATION_URL="https://aerynos.dev/"
SUPPORT_URL="https://github.com/orgs/AerynOS/discussions"
BUG_REPORT_URL="https://github.com/AerynOS/issues"
"""


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def test_os_release_text_is_real_moss_s() -> None:
    assert os_release_text(AERYNOS) == EXPECTED
    quoted = json.loads(json.dumps(AERYNOS))
    quoted["metadata"]["identity"]["display"] = 'Say "hi"'
    quoted["metadata"]["identity"]["ansi_color"] = "38;2;23;147;209"
    text = os_release_text(quoted)
    assert 'PRETTY_NAME="Say \\"hi\\""\n' in text
    assert text.endswith('ANSI_COLOR="38;2;23;147;209"\n')


def test_install_writes_os_release_and_boot_names_the_os(tmp_path: Path) -> None:
    root = tmp_path / "root"
    pkg = make_package(tmp_path, "os-info", {"lib/os-info.json": json.dumps(AERYNOS)})
    assert moss(root, "install", str(pkg)) == 0
    release = root / "usr/lib/os-release"
    assert release.read_text() == EXPECTED
    # Replaced by rename: the store's blobs are never written through a link.
    assert release.stat().st_nlink == 1
    (tmp_path / "esp").mkdir()
    config = load_config(root, esp=tmp_path / "esp", boot=tmp_path / "esp")
    assert (config.os_name, config.os_id) == ("AerynOS", "aerynos")


def test_without_os_info_the_shipped_os_release_stays(tmp_path: Path) -> None:
    root = tmp_path / "root"
    pkg = make_package(tmp_path, "base", {"lib/os-release": 'NAME="Serpent OS"\n'})
    assert moss(root, "install", str(pkg)) == 0
    assert (root / "usr/lib/os-release").read_text() == 'NAME="Serpent OS"\n'


def test_broken_os_info_stops_the_transaction(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "root"
    assert moss(root, "install", str(make_package(tmp_path, "base", {"lib/x": "x"}))) == 0
    before = tree_snapshot(root / "usr")
    bad = make_package(tmp_path, "os-info", {"lib/os-info.json": "{not json"})
    assert moss(root, "install", str(bad)) == 1
    err = capsys.readouterr().err
    assert "os-info.json" in err and len(err.strip().splitlines()) == 1
    assert tree_snapshot(root / "usr") == before


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, " " * (2 << 20) + "{}",
                                  b"{\"name\": \"\xff\"}".decode("latin-1")])
def test_os_info_too_deep_or_too_big_is_one_line(tmp_path: Path, text: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    # issue 23, rules 3 and 9: json recursed into a RecursionError; size was unbounded
    root = tmp_path / "root"
    assert moss(root, "install", str(make_package(tmp_path, "base", {"lib/x": "x"}))) == 0
    before = tree_snapshot(root / "usr")
    bad = make_package(tmp_path, "os-info", {"lib/os-info.json": text.encode("latin-1")})
    assert moss(root, "install", str(bad)) == 1
    err = capsys.readouterr().err
    assert "os-info.json" in err and len(err.strip().splitlines()) == 1
    assert tree_snapshot(root / "usr") == before


def test_a_linked_lib_folder_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    pkg = make_package(tmp_path, "odd", {"lib64/os-info.json": json.dumps(AERYNOS),
                                         "lib": Link("lib64")})
    assert moss(root, "install", str(pkg)) == 0
    assert not (root / "usr/lib64/os-release").exists()
