"""Peak memory of the .stone reader and of installing a large package.

Generates a tree of several hundred MB (one ~200 MB file of mostly random data,
plus many smaller compressible files), packs it with ``moss pack``, then runs
``moss inspect``, ``moss extract`` and ``moss install`` on it, each in its own
process, and reports each process's peak resident set size (``ru_maxrss`` from
``wait4``).  The baseline is the same interpreter importing moss and doing
nothing: what is above it is what the package costs.

    .venv/bin/python -m bench.stone_memory [--workdir DIR] [--big-mb 200] [--small-mb 200]

``main`` writes about a gigabyte and takes tens of seconds; ``run`` (used by
``python -m bench``) measures ``moss install`` alone on a smaller package.
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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.common import Result

MIB = 1 << 20
IMPORTS_ONLY = "import moss.cli, moss.actions.transaction, zstandard, xxhash, blake3"


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


# Reports the process's own high-water mark (VmHWM) when it exits.  ``ru_maxrss``
# from wait4 is not enough when the parent is large: Linux carries the forked
# copy's RSS across exec into the child's maxrss, so a child of a 60 MiB bench
# process never reports less than 60 MiB.
_HWM_PROLOGUE = """
import atexit, sys
_hwm_file = sys.argv.pop(1)
def _report():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            with open(_hwm_file, "w") as out:
                out.write(line.split()[1])
atexit.register(_report)
"""


def peak_kib(code: str, args: list[str], report: Path) -> int:
    """Peak RSS (KiB) of ``python -c code args``, measured by the process itself."""
    argv = [sys.executable, "-c", _HWM_PROLOGUE + code, str(report), *args]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {proc.stderr.strip()}")
    return int(report.read_text())


def run(quick: bool) -> list[Result]:
    return measure_install(20, 10) if quick else measure_install(200, 50)


def measure_install(big_mb: int, small_mb: int) -> list[Result]:
    from bench.common import Result, workdir

    moss = [sys.executable, "-m", "moss", "--quiet"]
    with workdir("memory") as work:
        tree = work / "tree"
        make_tree(tree, big_mb, small_mb)
        package = work / "big.stone"
        measure([*moss, "pack", str(tree), "-o", str(package), "--name", "big",
                 "--version", "1", "--release", "1"])
        install = "import sys; from moss.cli import main; sys.exit(main(sys.argv[1:]))"
        install_kib = peak_kib(install, ["-D", str(work / "root"), "-y", "--quiet", "install",
                                         str(package)], work / "install.hwm")
        baseline_kib = peak_kib(IMPORTS_ONLY, [], work / "imports.hwm")
    size = big_mb + small_mb  # of files before compression
    return [Result(f"peak RSS: install one {size} MiB package", install_kib * 1024.0,
                   baseline_kib * 1024.0, "python + moss imports only", unit="B")]


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
        baseline = measure([sys.executable, "-c", IMPORTS_ONLY])
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
