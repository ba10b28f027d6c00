"""Disk used by ten states that each change one package, against one state.

One transaction installs a generated repository (state 1); nine more each
upgrade one package to a release whose every file changed (states 2-10).  All
ten trees stay on disk (nine archived, one live).  ``du`` counts each hard-linked
inode once, so the figure is what the ten states really cost.

Baselines: one state alone, and the limit — one state plus the changed packages'
own bytes (what storing each new file exactly once costs).  Ten full copies would
be ten times one state.

    python -m bench.dedup [--packages 100] [--files 100]
"""

from __future__ import annotations

import argparse

from bench.common import Result, disk_usage, print_results, workdir
from bench.repo_gen import make_package, make_repository
from moss.actions.transaction import Options, Request
from moss.actions.transaction import run as run_transaction

STATES = 10


def measure(packages: int, files: int) -> list[Result]:
    with workdir("dedup") as work:
        repo = work / "repo"
        generated = make_repository(repo, packages, files)
        root = work / "root"
        options = Options(skip_boot=True)
        run_transaction(root, Request(install=[p.stone for p in generated]), options)
        one_state = disk_usage(root)
        changed = 0
        for i in range(1, STATES):
            update = make_package(repo, i, files, release=2)
            changed += disk_usage(update.tree)
            run_transaction(root, Request(install=[update.stone]), options)
        ten_states = disk_usage(root)
        name = f"dedup: {STATES} states of {packages * files} files, 1 package changed each"
        return [
            Result(name, ten_states, one_state, "one state", unit="B"),
            Result(name, ten_states, one_state + changed, "one state + changed files (limit)",
                   unit="B"),
        ]


def run(quick: bool) -> list[Result]:
    return measure(20, 50) if quick else measure(100, 100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=100)
    parser.add_argument("--files", type=int, default=100)
    args = parser.parse_args()
    print_results(measure(args.packages, args.files))


if __name__ == "__main__":
    main()
