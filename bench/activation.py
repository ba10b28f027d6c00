"""Time to activate a state as the tree grows: it should not depend on the tree's size.

Two states are installed from one small package each; both trees (the live one
and the archived one) are then padded with N extra hard links, so that the
trees moss swaps have N files.  ``moss.states.operations.activate_state`` then switches
between the two states back and forth (an exchange of ``/usr``, archiving the
old tree, root links, fsyncs, system triggers; boot sync skipped).  A second
row times ``moss.states.activate.activate_tree`` alone (exchange, archive, root links):
the part of activation that must be flat by construction.

The baseline is the same activation with the smallest tree: a ratio near 1 at
every size means activation is flat.

    python -m bench.activation [--sizes 10000,50000,200000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from bench.common import Result, print_results, workdir
from moss.actions.transaction import Options, Request
from moss.actions.transaction import run as run_transaction
from moss.core.root import Root, read_state_id
from moss.states.activate import activate_tree
from moss.states.operations import activate_state
from moss.stone import PackageMeta
from moss.stonetools.pack import pack_tree

LINKS_PER_BLOB = 1000  # well under any filesystem's link limit


def pad(usr: Path, blobs: Path, files: int) -> None:
    """``files`` extra hard links in ``usr/share/pad``, 100 to a folder."""
    for i in range(files):
        if i % 100 == 0:
            folder = usr / "share" / "pad" / f"d{i // 100:05}"
            folder.mkdir(parents=True)
        os.link(blobs / str(i // LINKS_PER_BLOB), folder / f"f{i}")


def two_states(root: Path, packages: Path) -> None:
    options = Options(skip_boot=True)
    for release in (1, 2):
        tree = packages / f"hello-{release}"
        (tree / "bin").mkdir(parents=True)
        (tree / "bin" / "hello").write_text(f"hello {release}\n")
        meta = PackageMeta(name="hello", version="1.0", release=release)
        stone = pack_tree(tree, meta, packages / f"hello-{release}.stone")
        run_transaction(root, Request(install=[stone]), options)


def activation_times(root: Path, repeats: int) -> tuple[float, float]:
    """Median times of ``moss state activate`` and of its exchange step alone.

    Alternates between states 1 and 2 so that every run really swaps ``/usr``.
    """
    full, exchange = [], []
    moss_root = Root(root)
    for i in range(repeats):
        start = time.perf_counter()
        activate_state(root, 1 if i % 2 == 0 else 2, skip_boot=True)
        full.append(time.perf_counter() - start)
    for _ in range(repeats):
        inactive = 3 - (read_state_id(moss_root.usr) or 0)
        start = time.perf_counter()
        activate_tree(moss_root, moss_root.archived_usr(inactive))
        exchange.append(time.perf_counter() - start)
    return statistics.median(full), statistics.median(exchange)


def measure(sizes: list[int], repeats: int) -> list[Result]:
    times: dict[int, tuple[float, float]] = {}
    for size in sizes:
        with workdir("activation") as work:
            root = work / "root"
            two_states(root, work / "packages")
            blobs = work / "blobs"
            blobs.mkdir()
            for b in range(size // LINKS_PER_BLOB + 1):
                (blobs / str(b)).write_text(f"blob {b}\n")
            moss_root = Root(root)
            pad(moss_root.usr, blobs, size)
            pad(moss_root.archived_usr(1), blobs, size)
            times[size] = activation_times(root, repeats)
    smallest = sizes[0]
    results = []
    for size in sizes[1:]:
        results.append(Result(f"activate: state of {size} files", times[size][0],
                              times[smallest][0], f"activate at {smallest} files"))
        results.append(Result(f"activate: exchange step alone, {size} files", times[size][1],
                              times[smallest][1], f"same at {smallest} files"))
    return results


def run(quick: bool) -> list[Result]:
    return measure([1_000, 20_000], 5) if quick else measure([10_000, 50_000, 200_000], 7)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,50000,200000")
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print_results(measure([int(s) for s in args.sizes.split(",")], args.repeats))


if __name__ == "__main__":
    main()
