"""Peak memory of the .stone reader on a large package.

Generates a tree of several hundred MB (one ~200 MB file of mostly random data,
plus many smaller compressible files), packs it with ``moss pack``, then runs
``moss inspect`` and ``moss extract`` on it, each in its own process, and reports
each process's peak resident set size (``ru_maxrss`` from ``wait4``).

    .venv/bin/python -m bench.stone_memory [--workdir DIR] [--big-mb 200] [--small-mb 200]

Not part of the test suite: it writes about a gigabyte and takes tens of seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MIB = 1 << 20


def make_tree(root: Path, big_mb: int, small_mb: int) -> int:
    """Writes the tree; returns its size in bytes."""
    (root / "lib" / "big").mkdir(parents=True)
    total = 0
    with (root / "lib" / "big" / "blob.bin").open("wb") as f:
        for i in range(big_mb):
            # Three quarters random, a quarter of a repeating pattern: incompressible-ish.
            chunk = os.urandom(3 * MIB // 4) + bytes([i % 256]) * (MIB // 4)
            f.write(chunk)
            total += len(chunk)
    line = b"line %d of a generated document about nothing much\n"
    text = b"".join(line % n for n in range(2000))
    per_file = 100 * 1024
    count = small_mb * MIB // per_file
    for n in range(count):
        folder = root / "share" / "docs" / f"d{n // 100:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        body = (b"file %d\n" % n + text)[:per_file]
        body += os.urandom(64)  # every file unique
        (folder / f"f{n:05d}.txt").write_bytes(body)
        total += len(body)
    return total


def measure(argv: list[str]) -> tuple[float, int]:
    """Runs argv; returns (seconds, peak RSS in KiB) of that process alone."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _pid, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{' '.join(argv)} failed: {err}")
    return elapsed, usage.ru_maxrss


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--workdir", type=Path, help="where to generate (default: a temp dir)")
    parser.add_argument("--big-mb", type=int, default=200)
    parser.add_argument("--small-mb", type=int, default=200)
    parser.add_argument("--keep", action="store_true", help="keep the generated files")
    opts = parser.parse_args(args)
    work = Path(tempfile.mkdtemp(prefix="stone-memory-", dir=opts.workdir))
    moss = [sys.executable, "-m", "moss", "--quiet"]
    try:
        tree = work / "tree"
        size = make_tree(tree, opts.big_mb, opts.small_mb)
        package = work / "big.stone"
        print(f"tree: {size / MIB:.0f} MiB in {sum(1 for _ in tree.rglob('*'))} paths")
        rows = []
        pack_cmd = [*moss, "pack", str(tree), "-o", str(package)]
        pack_cmd += ["--name", "big", "--version", "1", "--release", "1"]
        rows.append(("pack", *measure(pack_cmd)))
        print(f"package: {package.stat().st_size / MIB:.0f} MiB")
        rows.append(("inspect", *measure([*moss, "inspect", str(package)])))
        rows.append(("inspect --json", *measure([*moss, "inspect", "--json", str(package)])))
        rows.append(("extract", *measure([*moss, "extract", str(package), "-C", str(work / "x")])))
        baseline = measure([sys.executable, "-c", "import moss.cli, zstandard, xxhash"])
        rows.append(("(python + imports only)", *baseline))
        print(f"{'command':<26} {'seconds':>8} {'peak RSS MiB':>13}")
        for name, seconds, rss_kib in rows:
            print(f"{name:<26} {seconds:>8.1f} {rss_kib / 1024:>13.1f}")
    finally:
        if not opts.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
