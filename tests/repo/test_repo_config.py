"""Repository configuration files and the ``repo`` commands."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from moss.cli import repo_commands
from moss.core import kdl
from moss.core.errors import MossError
from moss.repo.config import (
    ADMIN_DIR,
    VENDOR_DIR,
    add_repository,
    load_repositories,
    remove_repository,
    set_active,
)

PUBKEY = "RWQf6LRCGA9i53mlYecO4IzT51TGPpvWucNSCh1CBM0QTaLn73Y7GFO3"


def run_cli(root: Path, *argv: str) -> int:
    """The repo commands behind the same global flags the real CLI has."""
    parser = argparse.ArgumentParser(prog="moss")
    parser.add_argument("-D", "--directory", type=Path, default=Path("/"))
    parser.add_argument("--quiet", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    repo_commands.register(sub)
    args = parser.parse_args(["-D", str(root), "--quiet", *argv])
    result: int = args.handler(args)
    return result


def test_add_writes_real_moss_shape(tmp_path: Path) -> None:
    """Real moss writes ``etc/moss/repo.d/<id>.kdl`` (its config crate saves KDL)."""
    add_repository(tmp_path, "volatile", "https://example.org/x86_64/stone.index", priority=10)
    data = kdl.to_data(kdl.read(tmp_path / ADMIN_DIR / "volatile.kdl"))
    assert data == {
        "volatile": {
            "description": "",
            "uri": "https://example.org/x86_64/stone.index",
            "priority": 10,
            "active": True,
        }
    }


def test_admin_overrides_vendor_and_sorting_prefers_high_priority(tmp_path: Path) -> None:
    vendor = tmp_path / VENDOR_DIR
    vendor.mkdir(parents=True)
    (vendor / "os.yaml").write_text(
        "unstable:\n  description: vendor\n  uri: https://v/stone.index\n  priority: 0\n"
        "extra:\n  description: extra\n  uri: https://e/stone.index\n  priority: 5\n"
    )
    admin = tmp_path / ADMIN_DIR
    admin.mkdir(parents=True)
    (admin / "mirror.yaml").write_text(
        "unstable:\n  description: mirror\n  uri: file:///srv/stone.index\n  priority: 20\n"
    )
    repos = load_repositories(tmp_path)
    assert [(r.id, r.uri, r.priority) for r in repos] == [
        ("unstable", "file:///srv/stone.index", 20),
        ("extra", "https://e/stone.index", 5),
    ]
    assert all(r.active for r in repos)


def test_bad_input_is_refused_and_changes_nothing(tmp_path: Path) -> None:
    with pytest.raises(MossError, match="invalid repository name"):
        add_repository(tmp_path, "../evil", "https://x/stone.index")
    with pytest.raises(MossError, match="unsupported repository URI"):
        add_repository(tmp_path, "x", "ftp://x/stone.index")
    with pytest.raises(MossError, match="minisign public key"):
        add_repository(tmp_path, "x", "https://x/stone.index", key="not a key")
    assert not (tmp_path / ADMIN_DIR).exists() or not any((tmp_path / ADMIN_DIR).iterdir())
    add_repository(tmp_path, "x", "https://x/stone.index")
    with pytest.raises(MossError, match="already exists"):
        add_repository(tmp_path, "x", "https://y/stone.index")
    assert load_repositories(tmp_path)[0].uri == "https://x/stone.index"


def test_broken_yaml_is_one_clear_error(tmp_path: Path) -> None:
    admin = tmp_path / ADMIN_DIR
    admin.mkdir(parents=True)
    (admin / "bad.yaml").write_text("x: [unclosed\n")
    with pytest.raises(MossError, match=r"bad\.yaml"):
        load_repositories(tmp_path)


def test_key_from_a_pub_file(tmp_path: Path) -> None:
    pub = tmp_path / "minisign.pub"
    pub.write_text(f"untrusted comment: minisign public key\n{PUBKEY}\n")
    repo = add_repository(tmp_path, "signed", "https://x/stone.index", key=str(pub))
    assert repo.key == PUBKEY
    assert load_repositories(tmp_path)[0].key == PUBKEY


def test_disable_vendor_repository_writes_override(tmp_path: Path) -> None:
    vendor = tmp_path / VENDOR_DIR
    vendor.mkdir(parents=True)
    (vendor / "os.yaml").write_text("unstable:\n  uri: https://v/stone.index\n  priority: 0\n")
    set_active(tmp_path, "unstable", False)
    assert (vendor / "os.yaml").read_text().count("active") == 0
    assert load_repositories(tmp_path)[0].active is False
    # Removing the override brings the vendor's entry back; the vendor's own cannot go.
    remove_repository(tmp_path, "unstable")
    assert load_repositories(tmp_path)[0].active is True
    with pytest.raises(MossError, match="disable it"):
        remove_repository(tmp_path, "unstable")


def test_cli_add_list_disable_remove(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Neither index can be fetched: each add says so, and the repository stays added.
    with pytest.raises(MossError, match="repository main is added, but its index could not"):
        run_cli(tmp_path, "repo", "add", "main", "https://m/stone.index", "-p", "3")
    with pytest.raises(MossError, match="`moss repo update local` tries again"):
        run_cli(tmp_path, "ar", "local", "file:///srv/stone.index", "-c", "mine")
    assert run_cli(tmp_path, "repo", "disable", "local") == 0
    capsys.readouterr()
    assert run_cli(tmp_path, "lr", "--json") == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["priority"], r["active"], r["fetched"]) for r in listed] == [
        ("main", 3, True, False),
        ("local", 0, False, False),
    ]
    assert run_cli(tmp_path, "rr", "main") == 0
    capsys.readouterr()
    assert run_cli(tmp_path, "repo", "list") == 0
    out = capsys.readouterr().out
    assert "local" in out and "main" not in out
    with pytest.raises(MossError, match="no repository named 'main'"):
        run_cli(tmp_path, "repo", "remove", "main")
