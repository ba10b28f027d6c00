"""A bounded, seeded fuzz of the package reader through ``inspect``, ``extract``, ``install``.

Real and generated packages are mutated three ways — byte flips, truncations,
and structurally hostile payload headers or record bodies (re-compressed with a
correct checksum, so the decoders behind the checksum are reached) — and fed to
the CLI.  Any exception other than a clean error (a traceback), any run past its
time limit, or any file written outside the destination fails the test.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import struct
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType

import pytest
import xxhash
import zstandard

from moss.cli import main
from moss.stone import header as file_header
from moss.stone import payload
from moss.stone.enums import PayloadKind
from tests.conftest import STONE_TESTDATA
from tests.stonetools.test_extract_bad import good, stone
from tests.support.packages import Link, make_package

SEED = 20261130
MUTANTS = 240
SECONDS_PER_RUN = 20
_HEADER = struct.Struct(">QQQIHBB")
HOSTILE_NUMBERS = [0, 1, 31, 32, 33, 255, 4096, (1 << 16) - 1, 1 << 17, (1 << 25),
                   (1 << 30), (1 << 32) - 1, (1 << 63), (1 << 64) - 1]


def split(data: bytes) -> list[tuple[list[int], bytes]]:
    """The payloads of a well-formed file: header fields and stored body."""
    count = struct.unpack_from(">H", data, 4)[0]
    out, offset = [], file_header.SIZE
    for _ in range(count):
        fields = list(_HEADER.unpack_from(data, offset))
        body = data[offset + payload.SIZE: offset + payload.SIZE + fields[0]]
        out.append((fields, body))
        offset += payload.SIZE + fields[0]
    return out


def join(data: bytes, payloads: list[tuple[list[int], bytes]]) -> bytes:
    head = bytearray(data[: file_header.SIZE])
    return bytes(head) + b"".join(_HEADER.pack(*f) + b for f, b in payloads)


def flip(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def hostile_header(rng: random.Random, data: bytes) -> bytes:
    """One header field (sizes, checksum, records, version, kind, compression) made hostile."""
    payloads = split(data)
    fields, _body = rng.choice(payloads)
    at = rng.randrange(7)
    if at <= 3:
        limit = (1 << 32) - 1 if at == 3 else (1 << 64) - 1
        fields[at] = min(rng.choice([*HOSTILE_NUMBERS, fields[at] + 1, max(fields[at] - 1, 0)]),
                         limit)
    else:
        fields[at] = rng.randrange(1 << 16 if at == 4 else 256)
    return join(data, payloads)


def hostile_records(rng: random.Random, data: bytes) -> bytes:
    """A record payload's plain bytes mutated, then stored again with a true checksum."""
    payloads = split(data)
    choices = [i for i, (f, _) in enumerate(payloads) if f[5] != PayloadKind.CONTENT]
    i = rng.choice(choices)
    fields, body = payloads[i]
    plain = bytearray(zstandard.ZstdDecompressor().decompress(body, max_output_size=1 << 24)
                      if fields[6] == 2 else body)
    if plain and rng.random() < 0.7:
        for _ in range(rng.randint(1, 4)):
            plain[rng.randrange(len(plain))] = rng.choice([0, 0xFF, ord("/"), ord("."),
                                                           rng.randrange(256)])
    else:
        plain = plain[: rng.randrange(len(plain) + 1)]
        fields[3] = rng.choice([fields[3], fields[3] + 1, rng.choice(HOSTILE_NUMBERS) & 0xFFFFFFFF])
    stored = zstandard.compress(bytes(plain)) if fields[6] == 2 else bytes(plain)
    fields[0], fields[1], fields[2] = len(stored), len(plain), xxhash.xxh3_64_intdigest(stored)
    payloads[i] = (fields, stored)
    return join(data, payloads)


MUTATIONS: list[Callable[[random.Random, bytes], bytes]] = [
    flip, truncate, hostile_header, hostile_records, hostile_records]


def seeds(tmp_path: Path, testdata: Path) -> list[bytes]:
    generated = make_package(tmp_path / "gen", "gen", {
        "bin/gen": "#!/bin/sh\n", "lib/libgen.so.1": "elf", "lib/libgen.so": Link("libgen.so.1"),
        "share/gen/empty": "", "share/gen/dir": None, "share/doc/gen/README": "read me " * 40,
    })
    real = [testdata / n for n in ("pineapple-1-1-1-x86_64.stone",
                                   "italian-pizza-1-1-1-x86_64.stone")]
    return [stone(good()), generated.read_bytes(), *(p.read_bytes() for p in real)]


@contextlib.contextmanager
def time_limit(what: str) -> Iterator[None]:
    def expired(_signum: int, _frame: FrameType | None) -> None:
        raise TimeoutError(f"{what} ran past {SECONDS_PER_RUN} s")
    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(SECONDS_PER_RUN)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def listing(top: Path, skip: set[Path]) -> set[str]:
    found: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(top):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) not in skip]
        found.update(os.path.join(dirpath, n) for n in dirnames + filenames)
    return found


def test_mutated_packages_fail_cleanly(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    originals = seeds(tmp_path, STONE_TESTDATA)
    rng = random.Random(SEED)
    root, work = tmp_path / "root", tmp_path / "work"
    work.mkdir()
    outcomes: dict[int, int] = {}
    for n in range(MUTANTS):
        mutation = MUTATIONS[n % len(MUTATIONS)]
        data = mutation(rng, rng.choice(originals))
        package = work / f"mutant-{n}.stone"
        package.write_bytes(data)
        dest = tmp_path / f"dest-{n}"
        before = listing(tmp_path, {root, dest})
        for args in (["inspect", str(package)], ["extract", str(package), "-C", str(dest)],
                     ["-D", str(root), "-y", "--quiet", "install", str(package)]):
            with time_limit(f"{mutation.__name__} #{n}: moss {args[0]}"):
                status = main(args)
            assert status in (0, 1), (n, mutation.__name__, args)
            outcomes[status] = outcomes.get(status, 0) + 1
            err = capsys.readouterr().err
            assert "Traceback" not in err
            assert status == 0 or len(err.strip().splitlines()) == 1, err
        assert listing(tmp_path, {root, dest}) == before, f"mutant {n} wrote outside"
    assert outcomes.get(1, 0) > MUTANTS  # most mutants are refused...
