"""Downloads against a real HTTP server: resume, retry, and refusing bad files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from moss.core.errors import MossError
from moss.repo.fetch import FetchOptions, download, part_path
from tests.repo.test_repo_httpserver import Behaviour, Site, site

__all__ = ["site"]

QUICK = FetchOptions(timeout=2.0, retries=2, backoff=0.01)
DATA = bytes(range(256)) * 1000


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_download_verifies_and_renames(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    dest = tmp_path / "out" / "pkg.stone"
    download(site.url("pkg.stone"), dest, sha256=sha(DATA), size=len(DATA), options=QUICK)
    assert dest.read_bytes() == DATA
    assert not part_path(dest).exists()


def test_resumes_a_partial_file_with_range(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    dest = tmp_path / "pkg.stone"
    part_path(dest).write_bytes(DATA[:1000])
    download(site.url("pkg.stone"), dest, sha256=sha(DATA), options=QUICK)
    assert dest.read_bytes() == DATA
    assert site.requests == [("/pkg.stone", "bytes=1000-")]


def test_server_without_range_restarts_cleanly(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    site.behaviour["/pkg.stone"] = Behaviour(ignore_range=True)
    dest = tmp_path / "pkg.stone"
    part_path(dest).write_bytes(b"garbage")
    download(site.url("pkg.stone"), dest, sha256=sha(DATA), options=QUICK)
    assert dest.read_bytes() == DATA


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # reset by hand
@given(have=st.integers(1, len(DATA) - 1), served_from=st.integers(0, len(DATA) - 1))
def test_a_206_that_does_not_continue_the_part_file_restarts_it(
        site: Site, tmp_path_factory: pytest.TempPathFactory, have: int, served_from: int) -> None:
    """Whatever range a server answers with, the result is the file itself: a 206 that
    starts anywhere but the end of the .part is thrown away and the file fetched whole."""
    site.files["/pkg.stone"] = DATA
    site.behaviour["/pkg.stone"] = Behaviour(range_from=served_from)
    site.requests.clear()
    dest = tmp_path_factory.mktemp("range") / "pkg.stone"
    part_path(dest).write_bytes(DATA[:have])
    download(site.url("pkg.stone"), dest, sha256=sha(DATA), size=len(DATA), options=QUICK)
    assert dest.read_bytes() == DATA
    expected: list[tuple[str, str | None]] = [("/pkg.stone", f"bytes={have}-")]
    if served_from != have:
        expected.append(("/pkg.stone", None))
    assert site.requests == expected


def test_truncated_transfer_is_resumed(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    site.behaviour["/pkg.stone"] = Behaviour(truncate_times=1)
    dest = tmp_path / "pkg.stone"
    download(site.url("pkg.stone"), dest, sha256=sha(DATA), options=QUICK)
    assert dest.read_bytes() == DATA
    assert len(site.requests) == 2
    assert site.requests[1][1] == f"bytes={len(DATA) // 2}-"


def test_server_errors_are_retried(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    site.behaviour["/pkg.stone"] = Behaviour(fail_times=2)
    dest = tmp_path / "pkg.stone"
    download(site.url("pkg.stone"), dest, options=QUICK)
    assert dest.read_bytes() == DATA


def test_persistent_server_error_names_url(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    site.behaviour["/pkg.stone"] = Behaviour(fail_times=10)
    dest = tmp_path / "pkg.stone"
    with pytest.raises(MossError, match=r"pkg\.stone: server error 503.*gave up after 3"):
        download(site.url("pkg.stone"), dest, options=QUICK)
    assert not dest.exists()


def test_not_found_is_not_retried(site: Site, tmp_path: Path) -> None:
    dest = tmp_path / "pkg.stone"
    with pytest.raises(MossError, match=r"/missing\.stone: 404"):
        download(site.url("missing.stone"), dest, options=QUICK)
    assert len(site.requests) == 1
    assert not dest.exists()


def test_wrong_digest_is_refused_and_discarded(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    dest = tmp_path / "pkg.stone"
    with pytest.raises(MossError, match="does not match the index"):
        download(site.url("pkg.stone"), dest, sha256=sha(b"other"), options=QUICK)
    assert not dest.exists()
    assert not part_path(dest).exists()


def test_wrong_size_is_refused(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    dest = tmp_path / "pkg.stone"
    with pytest.raises(MossError, match="expected 10 bytes"):
        download(site.url("pkg.stone"), dest, size=10, options=QUICK)
    assert not dest.exists()


def test_stalled_server_times_out(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = DATA
    site.behaviour["/pkg.stone"] = Behaviour(stall=2.0)
    dest = tmp_path / "pkg.stone"
    options = FetchOptions(timeout=0.3, retries=1, backoff=0.01)
    with pytest.raises(MossError, match=r"pkg\.stone: .*timed out"):
        download(site.url("pkg.stone"), dest, options=options)
    assert not dest.exists()


def test_refused_connection_names_url(tmp_path: Path) -> None:
    with pytest.raises(MossError, match=r"127\.0\.0\.1:9/x"):
        download("http://127.0.0.1:9/x", tmp_path / "x", options=QUICK)


def test_file_url(tmp_path: Path) -> None:
    src = tmp_path / "src.stone"
    src.write_bytes(DATA)
    dest = tmp_path / "dest.stone"
    download(src.as_uri(), dest, sha256=sha(DATA))
    assert dest.read_bytes() == DATA
    with pytest.raises(MossError, match="not found"):
        download((tmp_path / "nope").as_uri(), tmp_path / "n")


def test_a_server_that_never_stops_is_cut_at_the_declared_size(site: Site, tmp_path: Path) -> None:
    site.behaviour["/pkg.stone"] = Behaviour(endless=True)
    site.files["/pkg.stone"] = b""
    dest = tmp_path / "pkg.stone"
    with pytest.raises(MossError, match="expected 300 bytes, but the server sends more"):
        download(site.url("pkg.stone"), dest, size=300, options=QUICK)
    assert not dest.exists()
    assert not part_path(dest).exists(), "a refused answer leaves no .part behind"


def test_an_endless_index_is_capped(
    site: Site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("moss.repo.fetch.MAX_INDEX_BYTES", 1 << 20)
    site.behaviour["/stone.index"] = Behaviour(endless=True)
    site.files["/stone.index"] = b""
    dest = tmp_path / "stone.index"
    with pytest.raises(MossError, match=f"expected {1 << 20} bytes"):
        download(site.url("stone.index"), dest, options=QUICK)
    assert not part_path(dest).exists()


def test_a_trickling_server_is_given_up_on(site: Site, tmp_path: Path) -> None:
    site.files["/pkg.stone"] = b""
    site.behaviour["/pkg.stone"] = Behaviour(trickle=0.1)
    dest = tmp_path / "pkg.stone"
    options = FetchOptions(timeout=5.0, retries=1, backoff=0.01, stall_seconds=0.5)
    with pytest.raises(MossError, match=r"stalled: under 1024 bytes in 0.5 s \(gave up"):
        download(site.url("pkg.stone"), dest, size=1000, options=options)
    assert not dest.exists()


def test_a_full_disk_takes_back_its_part_file(site: Site, tmp_path: Path) -> None:
    """ENOSPC is no network failure: a kept .part would only hold the full disk."""
    site.files["/pkg.stone"] = DATA
    dest = tmp_path / "pkg.stone"
    part_path(dest).symlink_to("/dev/full")
    with pytest.raises(OSError):
        download(site.url("pkg.stone"), dest, size=len(DATA), options=QUICK)
    assert not part_path(dest).exists() and not part_path(dest).is_symlink()
