"""The blit by reflink on btrfs and xfs, against hard links and ``cp --reflink``.

Each filesystem is a loop-mounted image (root only), the store and the trees on
it.  moss blits with its own choice of strategy (a reflink where the filesystem
clones, real moss's order); the baselines on the same image and the same blobs:

* the ``os.link`` loop of ``bench.blit``: a hard-link tree (what a reflink costs
  over a link);
* ``cp -a --reflink=always`` of a tree of the same files (C, one process).

After the timed rounds, one file of moss's tree is written through and the store's
blob is read back: the note says whether the store stayed intact (with hard links
it would not).

    python -m bench.reflink [--files N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.blit import interleaved, link_loop, link_pairs, make_store, moss_blit, spread
from bench.common import Result, command, print_results, workdir
from moss.core.root import Root
from moss.store.assets import asset_path
from moss.tree.blit import STRATEGY_VARIABLE

MKFS = {"btrfs": ["mkfs.btrfs", "-q", "-f"], "xfs": ["mkfs.xfs", "-q", "-f"]}
IMAGE_BYTES = 2 << 30  # sparse: only what is written takes room


@contextmanager
def mounted_image(kind: str, work: Path) -> Iterator[Path]:
    """A fresh ``kind`` filesystem in a sparse image, loop-mounted for the block."""
    image, mount = work / f"{kind}.img", work / kind
    with open(image, "wb") as f:
        f.truncate(IMAGE_BYTES)
    command([*MKFS[kind], str(image)])
    mount.mkdir()
    command(["mount", "-o", "loop", str(image), str(mount)])
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False, capture_output=True)


def why_not(kind: str) -> str | None:
    """What this machine lacks to measure ``kind``, or None."""
    if os.geteuid() != 0:
        return "needs root to loop-mount an image"
    if shutil.which(MKFS[kind][0]) is None:
        return f"needs {MKFS[kind][0]} (apt-get install btrfs-progs xfsprogs)"
    return None


def measure_on(kind: str, files: int, repeats: int) -> list[Result]:
    name = f"blit by reflink on {kind}: state of {files} files"
    missing = why_not(kind)
    if missing:
        return [Result(name, None, None, "os.link loop, same filesystem",
                       note=f"not measured: {missing}")]
    os.environ.pop(STRATEGY_VARIABLE, None)  # moss's own choice: the reflink
    with workdir(f"reflink-{kind}") as work, mounted_image(kind, work) as mount:
        root = Root(mount / "root")
        entries = make_store(root, files)
        dest, source = mount / "tree", mount / "source"
        link_loop(link_pairs(root, entries, source), source)
        pairs = link_pairs(root, entries, dest)
        sides: dict[str, Callable[[], object]] = {
            "moss": lambda: moss_blit(root, entries, dest),
            "os.link loop, same filesystem": lambda: link_loop(pairs, dest),
            "cp -a --reflink=always": lambda: command(
                ["cp", "-a", "--reflink=always", str(source), str(dest)]),
        }
        times = interleaved(sides, repeats, lambda: shutil.rmtree(dest, ignore_errors=True))
        shutil.rmtree(dest, ignore_errors=True)
        moss_blit(root, entries, dest)
        intact = _write_through_leaves_store(root, entries[0].digest, dest / entries[0].target)
        moss = times.pop("moss")
        return [Result(name, statistics.median(moss), statistics.median(base), base_name,
                       note=f"{spread(moss, base)}; "
                            f"store intact after a write through the tree: {intact}")
                for base_name, base in times.items()]


def _write_through_leaves_store(root: Root, digest: int, tree_file: Path) -> str:
    blob = asset_path(root, digest)
    before = blob.read_bytes()
    linked = os.stat(blob).st_ino == os.stat(tree_file).st_ino
    with open(tree_file, "r+b") as f:
        f.write(b"X")
    return "no" if linked or blob.read_bytes() != before else "yes"


def measure(files: int, repeats: int) -> list[Result]:
    return [row for kind in MKFS for row in measure_on(kind, files, repeats)]


def run(quick: bool) -> list[Result]:
    return measure(2_000, 3) if quick else measure(20_000, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print_results(measure(args.files, args.repeats))


if __name__ == "__main__":
    main()
