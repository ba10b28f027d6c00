"""How cost grows with the work: installs of 10, 100 and 1 000 packages, blits of
10 000, 100 000 and 1 000 000 files, and the peak memory of each.

Each size runs in a child process of its own, which reports its own high-water
mark (``VmHWM``): ``ru_maxrss`` would carry the forked parent's RSS across exec, so
no child of a large bench process could report less than the parent (the first
full run's memory rows read 186.7 MiB at every size for that reason).
A time row's baseline is the smallest size's time scaled by the work
(×10, ×100): a ratio of 1.0 is exactly linear growth, above it faster than linear.
A memory row's baseline is the smallest size's peak: a ratio of 1.0 is flat.

    python -m bench.growth [--quick]
    python -m bench.growth --child install 100 REPO   (one measurement, as JSON)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Result, print_results, workdir

INSTALL_SIZES = (10, 100, 1_000)
BLIT_SIZES = (10_000, 100_000, 1_000_000)
FILES_PER_PACKAGE = 25


def _child_install(count: int, repo: Path, work: Path) -> float:
    from moss.actions.transaction import Options, Request
    from moss.actions.transaction import run as run_transaction

    stones = sorted((repo / "stones").glob("*.stone"))[:count]
    start = time.perf_counter()
    run_transaction(work / "root", Request(install=stones), Options(skip_boot=True))
    return time.perf_counter() - start


def _child_blit(count: int, work: Path) -> float:
    from bench.blit import make_store, moss_blit
    from moss.core.root import Root

    root = Root(work / "root")
    entries = make_store(root, count)  # untimed: the store the blit reads
    start = time.perf_counter()
    moss_blit(root, entries, work / "tree")
    return time.perf_counter() - start


def child(kind: str, count: int, repo: Path | None, work: Path) -> None:
    """One measurement in this process: prints seconds and this process's peak RSS."""
    seconds = _child_install(count, repo, work) if kind == "install" and repo else \
        _child_blit(count, work)
    print(json.dumps({"seconds": seconds, "peak": high_water_mark()}))


def high_water_mark() -> int:
    """This process's peak RSS in bytes, its own since exec (``VmHWM``)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def _measure_one(kind: str, count: int, repo: Path | None, work: Path) -> tuple[float, int]:
    scratch = work / f"{kind}-{count}"
    scratch.mkdir()
    argv = [sys.executable, "-m", "bench.growth", "--child", kind, str(count),
            str(repo or "-"), str(scratch)]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"{kind} {count}: {exc.stderr.strip()}") from None
    finally:  # rm, not shutil.rmtree: a million blobs and their links take minutes in Python
        subprocess.run(["rm", "-rf", str(scratch)], check=False)
    found = json.loads(out.strip().splitlines()[-1])
    return float(found["seconds"]), int(found["peak"])


def _rows(what: str, unit_name: str, sizes: tuple[int, ...],
          measured: dict[int, tuple[float, int]]) -> list[Result]:
    small = sizes[0]
    t0, m0 = measured[small]
    rows = []
    for size in sizes[1:]:
        rows.append(Result(f"growth: {what} {size} {unit_name}", measured[size][0],
                           t0 * size / small,
                           f"{small} {unit_name} × {size // small} (linear)"))
    for size in sizes[1:]:
        rows.append(Result(f"growth: peak memory, {what} {size} {unit_name}", measured[size][1],
                           m0, f"peak at {small} {unit_name} (flat)", unit="B"))
    return rows


def measure(install_sizes: tuple[int, ...], blit_sizes: tuple[int, ...]) -> list[Result]:
    from bench.repo_gen import make_repository

    with workdir("growth") as work:
        repo = work / "repo"
        make_repository(repo, max(install_sizes), FILES_PER_PACKAGE)
        installs = {n: _measure_one("install", n, repo, work) for n in install_sizes}
        shutil.rmtree(repo, ignore_errors=True)
        blits = {n: _measure_one("blit", n, None, work) for n in blit_sizes}
    return (_rows("install of", "packages", install_sizes, installs)
            + _rows("blit of", "files", blit_sizes, blits))


def run(quick: bool) -> list[Result]:
    if quick:
        return measure((5, 20), (1_000, 5_000))
    return measure(INSTALL_SIZES, BLIT_SIZES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child", nargs=4, metavar=("KIND", "COUNT", "REPO", "WORK"))
    args = parser.parse_args()
    if args.child:
        kind, count, repo, work = args.child
        child(kind, int(count), None if repo == "-" else Path(repo), Path(work))
        return
    print_results(run(args.quick))


if __name__ == "__main__":
    main()
