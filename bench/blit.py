"""Building a state of many files from the store, against the limit and two peers.

* a bare ``os.link`` loop over the same blobs into the same directory shape: the
  physical limit of hard-link trees on this disk, from Python;
* ``cp -al`` of the same tree (C, one process, no plan at all);
* ``ostree checkout -H`` of the same tree committed to a bare ostree repository
  (the hard-link checkout Fedora's image-based systems use).

moss's blit adds the tree plan (path checks, conflict detection) and
directory-fd walking on top of the links.

    python -m bench.blit [--files N] [--repeats R]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from bench.common import Result, command, print_results, workdir
from moss.core.root import Root
from moss.db.extras import NAME as EXTRAS
from moss.db.extras import ExtrasDB
from moss.stone import FileKind, LayoutEntry, digest_bytes, digest_hex, xxh3_128
from moss.store.assets import asset_location, asset_path
from moss.tree.blit import blit
from moss.tree.plan import plan_tree

FILES_PER_DIR = 100


def make_store(root: Root, files: int) -> list[LayoutEntry]:
    """``files`` unique small blobs in the store, laid out 100 to a directory, with
    the rows the store records for them (the blit reads their mode and owner).

    Plain ``os`` calls on strings: at a million blobs, pathlib and a ``mkdir`` per
    blob made this untimed set-up take longer than everything it sets up for.
    """
    entries = []
    rows = []
    assets = str(root.assets)
    folders: set[str] = set()
    uid, gid = os.geteuid(), os.getegid()
    for i in range(files):
        data = f"file {i}\n".encode()
        digest = xxh3_128(data)
        path = asset_location(assets, digest)
        folder = path.rpartition("/")[0]
        if folder not in folders:
            os.makedirs(folder, exist_ok=True)
            folders.add(folder)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            os.write(fd, data)
            os.fchmod(fd, 0o644)
            st = os.fstat(fd)
        finally:
            os.close(fd)
        rows.append((digest_hex(digest), "-", len(data), 0o644, uid, gid,
                     st.st_mtime_ns, st.st_ino))
        target = f"share/bench/d{i // FILES_PER_DIR:05}/f{i:07}"
        entries.append(LayoutEntry(0, 0, 0o100644, 0, FileKind.REGULAR,
                                   digest_bytes(digest), target))
    extras = ExtrasDB(root.db / EXTRAS)
    extras.add_assets(rows)
    extras.close()
    return entries


def moss_blit(root: Root, entries: list[LayoutEntry], dest: Path) -> None:
    """What a transaction does: read the blobs' attributes, plan, blit."""
    extras = ExtrasDB(root.db / EXTRAS)
    try:
        blit(root, plan_tree([("bench", entries)]), dest, attributes=extras.asset_attributes())
    finally:
        extras.close()


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


def ostree_commit(repo: Path, tree: Path) -> None:
    """A bare repository holding ``tree`` as branch ``bench`` (untimed set-up)."""
    command(["ostree", f"--repo={repo}", "init", "--mode=bare"])
    command(["ostree", f"--repo={repo}", "commit", "--branch=bench", "--no-xattrs",
             f"--tree=dir={tree}"])


def interleaved(sides: dict[str, Callable[[], object]], rounds: int,
                setup: Callable[[], object]) -> dict[str, list[float]]:
    """Each side once per round, in a rotating order, each after ``setup`` and a ``sync``.

    Side by side rather than one after the other, so a change in the machine's load
    meets every side alike; the ``sync`` writes back the previous run's deletions
    first, so no side pays for another's (every side reads the same warm blobs).
    """
    times: dict[str, list[float]] = {name: [] for name in sides}
    names = list(sides)
    for round_ in range(rounds):
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            setup()
            os.sync()
            start = time.perf_counter()
            sides[name]()
            times[name].append(time.perf_counter() - start)
    return times


def spread(moss: list[float], baseline: list[float]) -> str:
    """The per-round ratios' min/median/max, for the note: how steady the figure is."""
    ratios = sorted(m / b for m, b in zip(moss, baseline, strict=True))
    return f"per round {ratios[0]:.2f}/{statistics.median(ratios):.2f}/{ratios[-1]:.2f}"


def measure(files: int, repeats: int) -> list[Result]:
    with workdir("blit") as work:
        root = Root(work / "root")
        entries = make_store(root, files)
        dest, source, repo = work / "tree", work / "source", work / "ostree"
        link_loop(link_pairs(root, entries, source), source)  # the tree cp -al copies
        ostree_commit(repo, source)
        pairs = link_pairs(root, entries, dest)
        moss_blit(root, entries, dest)  # every side starts warm: blobs, store, databases
        sides: dict[str, Callable[[], object]] = {
            "moss": lambda: moss_blit(root, entries, dest),
            "os.link loop (limit)": lambda: link_loop(pairs, dest),
            "cp -al": lambda: command(["cp", "-al", str(source), str(dest)]),
            "ostree checkout -H": lambda: command(
                ["ostree", f"--repo={repo}", "checkout", "-H", "bench", str(dest)]),
        }
        times = interleaved(sides, repeats, lambda: shutil.rmtree(dest, ignore_errors=True))
        name = f"blit: state of {files} files (plan + blit)"
        moss = times.pop("moss")
        return [Result(name, statistics.median(moss), statistics.median(base), base_name,
                       note=spread(moss, base) if repeats > 1 else "")
                for base_name, base in times.items()]


def run(quick: bool) -> list[Result]:
    return measure(5_000, 3) if quick else measure(100_000, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print_results(measure(args.files, args.repeats))


if __name__ == "__main__":
    main()
