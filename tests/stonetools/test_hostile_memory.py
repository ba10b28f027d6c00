"""Memory and time bombs in tiny files: each is refused within ~100 MB.

A few dozen KiB can hold a zstd frame of 1 GiB of zeros, or a header claiming
millions of records.  Every case runs the real CLI in a child process and reads
that child's peak RSS from ``wait4`` (not a clock): one line on stderr, exit 1,
and a peak well below what decoding the bomb would take.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from moss.core.root import Root
from moss.repo.config import get_repository
from moss.repo.index import index_path
from moss.stone import FileType, PayloadKind
from tests.repo.test_repo_httpserver import Site, site  # noqa: F401 (the fixture)
from tests.stonetools.test_extract_bad import (
    GOOD_FILES,
    Payload,
    good,
    package_payloads,
    regular,
    stone,
)

GIB = 1 << 30
#: Peak RSS any of these runs may reach; the bare CLI takes about 40 MB.
MAX_RSS = 100 << 20


@dataclass
class Run:
    status: int
    stderr: str
    max_rss: int  # bytes


#: Forks the CLI and prints its peak RSS (KiB) and exit status. A child's peak
#: starts at the RSS of the process that forked it, so the CLI is forked by this
#: small launcher rather than by pytest, whose own size would be counted.
LAUNCHER = """
import os, signal, sys
timeout, args = int(sys.argv[1]), sys.argv[2:]
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, "-m", "moss", *args])
signal.signal(signal.SIGALRM, lambda *_: os.kill(pid, signal.SIGKILL))
signal.alarm(timeout)
_, status, usage = os.wait4(pid, 0)
print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))
"""


def run_measured(*args: str, timeout: int = 60) -> Run:
    """The CLI in a child process; that child's own peak RSS from wait4."""
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, str(timeout), *args],
                          capture_output=True, text=True, timeout=timeout + 30)
    max_rss, status = map(int, proc.stdout.split()[-2:])
    if status == -signal.SIGKILL:
        pytest.fail(f"moss {' '.join(args)} ran past {timeout} s")
    return Run(status, proc.stderr, max_rss * 1024)


def zero_frame(size: int) -> bytes:
    """``size`` zero bytes as one zstd frame, compressed a MiB at a time."""
    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    chunk = bytes(1 << 20)
    out = [compressor.compress(chunk) for _ in range(size >> 20)]
    return b"".join(out) + compressor.flush()


@pytest.fixture(scope="module")
def gib_of_zeros() -> bytes:
    return zero_frame(GIB)


def bomb(kind: PayloadKind, frame: bytes, records: int, plain: int = GIB) -> bytes:
    """A good package whose ``kind`` payload is ``frame``, declared as ``plain`` bytes."""
    payloads = good()
    at = [p.kind for p in payloads].index(kind)
    payloads[at] = Payload(kind, b"", records, plain_size=plain, body=frame)
    return stone(payloads)


def assert_bounded(run: Run, *words: str) -> None:
    assert run.status == 1, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1, run.stderr
    assert "Traceback" not in run.stderr
    for word in words:
        assert word in run.stderr, run.stderr
    assert run.max_rss < MAX_RSS, f"peak RSS {run.max_rss >> 20} MiB"


def every_command(tmp_path: Path, data: bytes, *words: str) -> None:
    package = tmp_path / "bomb.stone"
    package.write_bytes(data)
    assert len(data) < 64 << 10
    for args in (["inspect", str(package)], ["extract", str(package), "-C", str(tmp_path / "x")],
                 ["-D", str(tmp_path / "root"), "-y", "install", str(package)]):
        assert_bounded(run_measured(*args), *words)
    assert not (tmp_path / "x" / "usr").exists()
    assert not (tmp_path / "root" / "usr" / "share").exists()


def test_layout_bomb(tmp_path: Path, gib_of_zeros: bytes) -> None:
    every_command(tmp_path, bomb(PayloadKind.LAYOUT, gib_of_zeros, 2), "Layout", "limit")


def test_meta_bomb(tmp_path: Path, gib_of_zeros: bytes) -> None:
    every_command(tmp_path, bomb(PayloadKind.META, gib_of_zeros, 3), "Meta", "limit")


def test_index_claiming_2_to_the_25_records(tmp_path: Path, gib_of_zeros: bytes) -> None:
    every_command(tmp_path, bomb(PayloadKind.INDEX, gib_of_zeros, 1 << 25), "Index", "limit")


def test_a_bomb_under_a_small_declared_size_stops_at_that_size(
    tmp_path: Path, gib_of_zeros: bytes
) -> None:
    every_command(tmp_path, bomb(PayloadKind.LAYOUT, gib_of_zeros, 2, plain=4096),
                  "past its declared plain size")


def test_a_path_32000_deep(tmp_path: Path) -> None:
    deep = "/".join(["d"] * 32000)
    data = stone(package_payloads([regular(deep, GOOD_FILES[0])], GOOD_FILES[:1]))
    every_command(tmp_path, data, "63999 bytes long", "limit of 3072")


def test_repo_update_with_a_bomb_index(
    tmp_path: Path, site: Site, gib_of_zeros: bytes  # noqa: F811
) -> None:
    meta = Payload(PayloadKind.META, b"", 3, plain_size=GIB, body=gib_of_zeros)
    site.files["/stone.index"] = stone([meta], FileType.REPOSITORY)
    root = str(tmp_path / "root")
    run = run_measured("-D", root, "repo", "add", "bomb", site.url("stone.index"))
    if run.status == 0:  # adding does not fetch: the update does
        run = run_measured("-D", root, "repo", "update")
    assert_bounded(run, "not a valid repository index", "limit")
    bomb = get_repository(tmp_path / "root", "bomb")
    assert not index_path(tmp_path / "root", bomb).exists()
    assert not Root(tmp_path / "root").repo_index("bomb").exists()
