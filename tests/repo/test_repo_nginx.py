"""The repository client against the server repositories really live on: nginx.

What a user would check: a refresh with nothing new costs a few hundred bytes
on the wire (counted by nginx's own ``$bytes_sent``), a stale signed index is
refused, a download cut by a dying server resumes where it stopped, and many
packages share one kept-alive connection.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.core.errors import MossError
from moss.repo.cache import Download, fetch_packages
from moss.repo.config import add_repository, get_repository
from moss.repo.fetch import FetchOptions, download, part_path
from moss.repo.index import index_path, update_repository
from moss.stone import PackageMeta, write_repository_index
from tests.repo.test_repo_signature import make_key, needs_minisign, sign
from tests.support.nginx import SLOW_RATE, Nginx, nginx

__all__ = ["nginx"]

QUICK = FetchOptions(timeout=3.0, retries=3, backoff=0.2)
NO_CHANGE_BUDGET = 4 << 10


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def index_bytes(tmp_path: Path, packages: int, release: int = 1) -> bytes:
    """A repository index listing ``packages`` packages (their files need not exist)."""
    metas = [PackageMeta(name=f"pkg{i}", version="1.0", release=release,
                         summary=f"package number {i}", uri=f"pool/pkg{i}-{release}.stone",
                         hash=hashlib.sha256(f"{i}-{release}".encode()).hexdigest(), size=1000 + i)
             for i in range(packages)]
    out = tmp_path / f"index-{packages}-{release}"
    write_repository_index(out, metas)
    return out.read_bytes()


def publish_signed(server: Nginx, tmp_path: Path, data: bytes, sec: Path, stamp: int) -> None:
    """Serve ``data`` as the index, signed with the timestamp ``stamp``, with mtime ``stamp``."""
    scratch = tmp_path / "sign" / "stone.index"
    scratch.parent.mkdir(exist_ok=True)
    scratch.write_bytes(data)
    sign(sec, scratch, comment=f"timestamp:{stamp}")
    for name in ("stone.index", "stone.index.minisig"):
        served = server.publish(f"repo/{name}", (scratch.parent / name).read_bytes())
        os.utime(served, (stamp, stamp))


@needs_minisign
def test_no_change_refresh_moves_under_4_kib_and_stale_index_is_refused(
        nginx: Nginx, tmp_path: Path) -> None:
    pub, sec = make_key(tmp_path)
    root = tmp_path / "root"
    first = index_bytes(tmp_path, 400)
    assert len(first) > 50_000  # the "whole 92 KB index" scale
    publish_signed(nginx, tmp_path, first, sec, 1_700_000_000)
    nginx.clear_log()
    assert moss(root, "repo", "add", "main", nginx.url("repo/stone.index"),
                "--key", str(pub)).returncode == 0  # fetches the index whole (issue 25)
    full = nginx.bytes_sent()
    assert full > len(first)

    nginx.clear_log()
    again = moss(root, "repo", "update")
    assert again.returncode == 0, again.stderr
    assert nginx.bytes_sent() <= NO_CHANGE_BUDGET
    assert [hit.status for hit in nginx.hits() if hit.path.endswith("stone.index")] == [304]
    kept = index_path(root, get_repository(root, "main"))
    assert kept.read_bytes() == first
    assert "pkg399" in moss(root, "list", "available").stdout

    # A newer signed index is fetched whole; an older one (a stale mirror) is refused.
    second = index_bytes(tmp_path, 401, release=2)
    publish_signed(nginx, tmp_path, second, sec, 1_700_000_100)
    assert moss(root, "repo", "update").returncode == 0
    assert kept.read_bytes() == second
    publish_signed(nginx, tmp_path, first, sec, 1_700_000_050)
    stale = moss(root, "repo", "update")
    assert stale.returncode == 1
    assert len(stale.stderr.strip().splitlines()) == 1
    assert "older than the one in use" in stale.stderr
    assert kept.read_bytes() == second


@settings(max_examples=8, deadline=None)
@given(steps=st.lists(st.sampled_from(["same", "touch", "new"]), min_size=1, max_size=4))
def test_after_any_refresh_the_index_in_use_is_the_one_served(
        tmp_path_factory: pytest.TempPathFactory, steps: list[str]) -> None:
    """The rule behind a 304: whatever the server did between refreshes (nothing, a new
    mtime, new content), the index in use afterwards is byte for byte the one served,
    and an unchanged one costs at most the budget."""
    if not Path("/usr/sbin/nginx").exists():
        pytest.skip("nginx is not installed (Debian package nginx)")
    tmp_path = tmp_path_factory.mktemp("refresh")
    server = Nginx(tmp_path / "nginx")
    server.start()
    try:
        root = tmp_path / "root"
        stamp = 1_700_000_000
        served = index_bytes(tmp_path, 20)
        path = server.publish("repo/stone.index", served)
        os.utime(path, (stamp, stamp))
        repo = add_repository(root, "main", server.url("repo/stone.index"))
        update_repository(root, repo, options=QUICK)
        for number, step in enumerate(steps):
            stamp += 10
            if step == "new":
                served = index_bytes(tmp_path, 20 + number + 1, release=number + 2)
            if step != "same":
                path = server.publish("repo/stone.index", served)
                os.utime(path, (stamp, stamp))
            server.clear_log()
            update_repository(root, repo, options=QUICK)
            assert index_path(root, repo).read_bytes() == served
            if step == "same":
                assert server.bytes_sent() <= NO_CHANGE_BUDGET
                assert [hit.status for hit in server.hits()
                        if hit.path.endswith("stone.index")] == [304]
    finally:
        server.stop()


def test_range_request_resumes_a_part_file(nginx: Nginx, tmp_path: Path) -> None:
    data = os.urandom(300_000)
    nginx.publish("pool/a.stone", data)
    dest = tmp_path / "a.stone"
    part_path(dest).write_bytes(data[:200_000])
    download(nginx.url("pool/a.stone"), dest, sha256=hashlib.sha256(data).hexdigest(),
             size=len(data), options=QUICK)
    assert dest.read_bytes() == data
    [hit] = nginx.hits()
    assert (hit.status, hit.range) == (206, "bytes=200000-")
    assert hit.bytes_sent < 100_000 + 1024


def test_a_mirror_that_dies_mid_transfer_is_resumed_when_it_returns(
        nginx: Nginx, tmp_path: Path) -> None:
    data = os.urandom(3 * SLOW_RATE)  # about three seconds at the slow location's rate
    nginx.publish("pool/big.stone", data)
    dest = tmp_path / "big.stone"
    errors: list[BaseException] = []

    def fetch() -> None:
        try:
            download(nginx.url("slow/pool/big.stone"), dest,
                     sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                     options=FetchOptions(timeout=3.0, retries=5, backoff=0.5))
        except BaseException as exc:  # handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=fetch)
    worker.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and (
            not part_path(dest).exists() or part_path(dest).stat().st_size < SLOW_RATE // 2):
        time.sleep(0.05)
    nginx.stop()  # the mirror dies with the transfer under way
    nginx.start()  # and comes back on the same port
    worker.join(timeout=30)
    assert not errors, errors
    assert dest.read_bytes() == data
    resumed = [hit for hit in nginx.hits() if hit.status == 206]
    assert resumed and resumed[0].range.startswith("bytes=")
    assert int(resumed[0].range[len("bytes="):-1]) >= SLOW_RATE // 2
    assert nginx.bytes_sent() < len(data) + 4096  # nothing fetched twice


def test_packages_share_kept_alive_connections(nginx: Nginx, tmp_path: Path) -> None:
    bodies = {f"p{i}": os.urandom(20_000 + i) for i in range(8)}
    downloads = []
    for name, body in bodies.items():
        nginx.publish(f"pool/{name}.stone", body)
        downloads.append(Download(name, nginx.url(f"pool/{name}.stone"),
                                  hashlib.sha256(body).hexdigest(), len(body)))
    fetch_packages(downloads[:4], tmp_path / "one", jobs=1, options=QUICK)
    assert {hit.connection for hit in nginx.hits()} == {nginx.hits()[0].connection}
    assert max(hit.connection_requests for hit in nginx.hits()) == 4
    nginx.clear_log()
    fetch_packages(downloads, tmp_path / "many", jobs=2, options=QUICK)
    assert len({hit.connection for hit in nginx.hits()}) <= 2


def test_a_missing_file_on_nginx_names_the_url(nginx: Nginx, tmp_path: Path) -> None:
    with pytest.raises(MossError, match=r"nothing\.stone: 404 Not Found"):
        download(nginx.url("pool/nothing.stone"), tmp_path / "x", options=QUICK)


@needs_minisign
def test_an_index_republished_within_the_same_second_is_not_missed(
        nginx: Nginx, tmp_path: Path) -> None:
    """A server whose only validator is Last-Modified (whole seconds; nginx's ETag adds
    just the size) takes a new index published within the same second for unchanged.
    The new signature does not match the kept index, so moss fetches the index whole."""
    pub, sec = make_key(tmp_path)
    root = tmp_path / "root"
    first, second = index_bytes(tmp_path, 30, release=1), index_bytes(tmp_path, 30, release=2)
    publish_signed(nginx, tmp_path, first, sec, 1_700_000_000)
    repo = add_repository(root, "main", nginx.url("no-etag/repo/stone.index"),
                          key=str(pub))
    update_repository(root, repo, options=QUICK)
    publish_signed(nginx, tmp_path, second, sec, 1_700_000_001)
    os.utime(nginx.www / "repo/stone.index", (1_700_000_000, 1_700_000_000))
    nginx.clear_log()
    update_repository(root, repo, options=QUICK)
    assert index_path(root, repo).read_bytes() == second
    assert [hit.status for hit in nginx.hits() if hit.path.endswith("stone.index")] == [304, 200]
