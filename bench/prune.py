"""Pruning a state of many unique files, against ``rm -rf`` of the same files.

moss: ``moss state prune --keep 1`` (``moss.states.operations.prune_states``) of a
root where state 1 holds every file of a generated repository and the active
state 2 holds none, so the prune deletes state 1's tree and every blob it used.

Baseline: ``rm -rf`` of a copy of the same tree and the same store (``cp -a``, so
the hard links between them are kept): the same inodes and names to delete,
without the databases or the checks.  Both sides start from a fresh copy made
before the clock starts, interleaved round by round after a ``sync``.

The run also checks that the prune reports progress through the blob deletion
(a tester's prune once sat 23-90 s with nothing on the screen).

    python -m bench.prune [--packages 200] [--files 250] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import time
from pathlib import Path

from bench.common import Result, command, print_results, workdir
from bench.install import moss_install
from bench.repo_gen import make_repository
from moss.actions.transaction import Options, Request
from moss.actions.transaction import run as run_transaction
from moss.core.progress import Progress
from moss.core.root import Root
from moss.states.operations import prune_states


class Recorder(Progress):
    """A progress that draws nothing and keeps each step's label and final count."""

    def __init__(self) -> None:
        super().__init__(enabled=False)
        self.steps: dict[str, tuple[int, int]] = {}

    def done(self) -> None:
        if self.label:
            self.steps[self.label] = (self.current, self.total)
        super().done()


def two_states(work: Path, packages: int, files: int) -> Path:
    """A root whose state 1 holds every generated file and active state 2 none."""
    generated = make_repository(work / "repo", packages, files)
    root = work / "root"
    moss_install(root, generated)
    run_transaction(root, Request(remove=[p.name for p in generated]), Options(skip_boot=True))
    shutil.rmtree(work / "repo")
    return root


def moss_side(root: Path, scratch: Path) -> tuple[float, Recorder]:
    command(["cp", "-a", str(root), str(scratch)])
    os.sync()
    recorder = Recorder()
    start = time.perf_counter()
    removed = prune_states(scratch, 1, skip_boot=True, progress=recorder)
    elapsed = time.perf_counter() - start
    if removed != [1]:
        raise RuntimeError(f"prune removed states {removed}, not [1]")
    shutil.rmtree(scratch)
    return elapsed, recorder


def rm_side(root: Path, scratch: Path) -> float:
    moss_dir = Root(root)
    scratch.mkdir()
    command(["cp", "-a", str(moss_dir.states_dir / "1"), str(moss_dir.assets), str(scratch)])
    os.sync()
    start = time.perf_counter()
    command(["rm", "-rf", str(scratch)])
    return time.perf_counter() - start


def progress_note(recorder: Recorder, files: int) -> str:
    """What the prune reported; an error if the blob deletion showed no progress."""
    current, total = recorder.steps.get("Removing unused blobs", (0, 0))
    if total < files or current != total:
        raise RuntimeError(f"prune reported no progress over its blobs: {recorder.steps}")
    return "progress: " + ", ".join(f"{label} {c}/{t}" for label, (c, t) in
                                    recorder.steps.items())


def measure(packages: int, files: int, repeats: int) -> list[Result]:
    with workdir("prune") as work:
        root = two_states(work, packages, files)
        moss_times, rm_times, recorder = [], [], Recorder()
        for round_ in range(repeats):
            if round_ % 2:
                rm_times.append(rm_side(root, work / "copy"))
            elapsed, recorder = moss_side(root, work / "scratch")
            moss_times.append(elapsed)
            if not round_ % 2:
                rm_times.append(rm_side(root, work / "copy"))
        unique = packages * (files - 1) + 1  # one licence shared by every package
        note = progress_note(recorder, unique - 1)
        if repeats > 1:
            ratios = sorted(m / b for m, b in zip(moss_times, rm_times, strict=True))
            note += f"; per round {ratios[0]:.2f}/{statistics.median(ratios):.2f}/{ratios[-1]:.2f}"
        return [Result(f"state prune: a state of {unique} unique files",
                       statistics.median(moss_times), statistics.median(rm_times),
                       "rm -rf of the same tree + blobs", note=note)]


def run(quick: bool) -> list[Result]:
    return measure(10, 50, 3) if quick else measure(200, 250, 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=200)
    parser.add_argument("--files", type=int, default=250)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print_results(measure(args.packages, args.files, args.repeats))


if __name__ == "__main__":
    main()
