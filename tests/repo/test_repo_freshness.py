"""A replayed older index, validly signed, must not walk a system back to old packages.

Indexes are signed with the real ``minisign`` (its trusted comment carries the
timestamp), served by the real HTTP fixture, and fetched by ``moss`` in a
subprocess, as a user runs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from moss.repo.config import get_repository
from moss.repo.index import index_path
from tests.actions.test_install_from_repo import publish
from tests.repo.test_repo_endtoend import serve_directory
from tests.repo.test_repo_httpserver import Site, site
from tests.repo.test_repo_signature import make_key, needs_minisign, sign

__all__ = ["site"]


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120)


def release(tmp_path: Path, site: Site, sec: Path, hello: int, comment: str) -> dict[str, bytes]:
    """Publish ``hello`` release ``hello`` signed with ``comment``; returns index + signature."""
    served = publish(tmp_path, site, sec, hello_release=hello)
    sign(sec, served / "stone.index", comment=comment)
    serve_directory(site, served, "repo")
    return {k: site.files[k] for k in ("/repo/stone.index", "/repo/stone.index.minisig")}


@needs_minisign
def test_replayed_older_index_is_refused_and_sync_keeps_the_new_release(
        tmp_path: Path, site: Site) -> None:
    pub, sec = make_key(tmp_path)
    root = tmp_path / "root"
    old = release(tmp_path, site, sec, 1, "timestamp:1700000000\tfile:stone.index")
    assert moss(root, "repo", "add", "main", site.url("/repo/stone.index"),
                "--key", str(pub)).returncode == 0
    assert moss(root, "repo", "update").returncode == 0
    assert moss(root, "install", "hello").returncode == 0
    release(tmp_path, site, sec, 2, "timestamp:1800000000\tfile:stone.index")
    assert moss(root, "repo", "update").returncode == 0
    assert moss(root, "sync").returncode == 0
    assert (root / "usr/bin/hello").read_text() == "hello 2\n"
    in_use = index_path(root, get_repository(root, "main")).read_bytes()

    # The attacker serves the old index with its valid signature.
    site.files.update(old)
    proc = moss(root, "repo", "update")
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1
    assert "older than the one in use" in proc.stderr and "--allow-older" in proc.stderr
    assert index_path(root, get_repository(root, "main")).read_bytes() == in_use
    assert moss(root, "sync").returncode == 0
    assert (root / "usr/bin/hello").read_text() == "hello 2\n"

    # A signature without a timestamp cannot slip past either.
    release(tmp_path, site, sec, 1, "no time in this comment")
    proc = moss(root, "repo", "update")
    assert proc.returncode == 1 and "no signed timestamp" in proc.stderr
    assert index_path(root, get_repository(root, "main")).read_bytes() == in_use

    # The user asks for the rollback: then, and only then, it happens.
    site.files.update(old)
    assert moss(root, "repo", "update", "--allow-older").returncode == 0
    assert moss(root, "sync").returncode == 0
    assert (root / "usr/bin/hello").read_text() == "hello 1\n"


@needs_minisign
def test_minisign_default_comment_carries_the_timestamp(tmp_path: Path, site: Site) -> None:
    """What the docs tell publishers: plain `minisign -S` already signs the time."""
    pub, sec = make_key(tmp_path)
    root = tmp_path / "root"
    publish(tmp_path, site, sec)
    assert moss(root, "repo", "add", "main", site.url("/repo/stone.index"),
                "--key", str(pub)).returncode == 0
    assert moss(root, "repo", "update").returncode == 0
    folder = index_path(root, get_repository(root, "main")).parent
    stamp = (folder / "stone.index.timestamp").read_text()
    assert stamp.strip().isdigit() and int(stamp) > 1_700_000_000
