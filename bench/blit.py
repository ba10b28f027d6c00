"""Building a state of many files from the store, against a bare ``os.link`` loop.

The loop over the same blobs into the same directory shape is the physical
limit of hard-link trees on this disk; moss's blit adds the tree plan (path
checks, conflict detection) and directory-fd walking on top of it.

    python -m bench.blit [--files N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from pathlib import Path

from bench.common import Result, median_time, print_results
from moss.blit import blit
from moss.root import Root
from moss.stone import FileKind, LayoutEntry, digest_bytes, xxh3_128
from moss.store import asset_path
from moss.tree import plan_tree

FILES_PER_DIR = 100


def make_store(root: Root, files: int) -> list[LayoutEntry]:
    """``files`` unique small blobs in the store, laid out 100 to a directory."""
    entries = []
    for i in range(files):
        data = f"file {i}\n".encode()
        digest = xxh3_128(data)
        path = asset_path(root, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        target = f"share/bench/d{i // FILES_PER_DIR:05}/f{i:07}"
        entries.append(LayoutEntry(0, 0, 0o100644, 0, FileKind.REGULAR,
                                   digest_bytes(digest), target))
    return entries


def link_pairs(root: Root, entries: list[LayoutEntry], dest: Path) -> list[tuple[str, str]]:
    """(blob, destination) strings, computed before the clock starts."""
    return [(str(asset_path(root, e.digest)), f"{dest}/{e.target}") for e in entries]


def link_loop(pairs: list[tuple[str, str]], dest: Path) -> None:
    """The least Python can do: one mkdir per directory, one link per file."""
    made = set()
    for source, target in pairs:
        parent = target.rpartition("/")[0]
        if parent not in made:
            os.makedirs(parent)
            made.add(parent)
        os.link(source, target)


def run(files: int = 100_000, repeats: int = 3) -> list[Result]:
    work = Path(tempfile.mkdtemp(prefix="moss-bench-blit-", dir="/var/tmp"))
    try:
        root = Root(work / "root")
        entries = make_store(root, files)
        dest = work / "tree"

        def clean() -> None:
            shutil.rmtree(dest, ignore_errors=True)

        moss_time = median_time(lambda: blit(root, plan_tree([("bench", entries)]), dest),
                                repeats, setup=clean)
        pairs = link_pairs(root, entries, dest)
        link_time = median_time(lambda: link_loop(pairs, dest), repeats, setup=clean)
        return [Result(f"blit {files} files (plan + blit)", moss_time, link_time,
                       "os.link loop")]
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_results(run(args.files, args.repeats))


if __name__ == "__main__":
    main()
