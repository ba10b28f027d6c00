"""Queries on a large repository index, through the command line, warm.

A root with repositories whose ``stone.index`` files hold N generated packages
in all (the resolve benchmark's graph, each with a hash, uri and size as an
index gives them; 50 000 to an index, as one holds at most 65 535).  Timed as
a user meets them: ``python -m moss -D ROOT search p123``,
``info p123`` and ``list available`` in a fresh process each, after one untimed
run so the page cache is warm.  Baseline: ``python -I -c pass`` of the same
interpreter, timed in the same rounds: what any Python command costs to start.
The absolute time is the figure that matters here (goal: 0.3 s each).

    python -m bench.repo_query [--packages 100000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

from bench.common import Result, command, print_results, workdir
from bench.resolve import generate
from bench.startup import _env as cached_bytecode_env
from moss.stone.writer import write_repository_index

QUERIES = {"search": ["search", "p{pick}"], "info": ["info", "p{pick}"],
           "list available": ["list", "available"]}


#: Packages one ``stone.index`` can hold: the stone header counts payloads in 16 bits.
PER_INDEX = 50_000


def make_root(work: Path, packages: int) -> Path:
    """A root whose repositories serve ``packages`` packages in all (untimed).

    One index holds at most 65 535 payloads (the stone header's count is 16 bits),
    so a larger set is split over repositories of :data:`PER_INDEX` packages.
    """
    metas = [replace(m, summary=f"generated package {m.name}", uri=f"stones/{m.name}.stone",
                     hash=hashlib.sha256(m.name.encode()).hexdigest(), size=4096)
             for m in generate(packages)]
    root = work / "root"
    moss = [sys.executable, "-m", "moss", "-D", str(root)]
    for number, start in enumerate(range(0, packages, PER_INDEX)):
        index = work / f"repo{number}" / "stone.index"
        index.parent.mkdir(parents=True)
        write_repository_index(index, metas[start:start + PER_INDEX])
        command([*moss, "repo", "add", f"main{number}", index.as_uri()])
    command([*moss, "repo", "update"])
    return root


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=env)
    return time.perf_counter() - start


def measure(packages: int, repeats: int) -> list[Result]:
    with workdir("repo-query") as work:
        root = make_root(work, packages)
        pick = packages // 2
        runs = {name: [sys.executable, "-m", "moss", "-D", str(root),
                       *(a.format(pick=pick) for a in args)] for name, args in QUERIES.items()}
        runs["start-up"] = [sys.executable, "-I", "-c", "pass"]
        # moss's bytecode cached, as an installed moss has it (not recompiled every run
        # under PYTHONDONTWRITEBYTECODE=1, as in this project's shells)
        env = cached_bytecode_env(work / "pycache")
        for argv in runs.values():
            timed(argv, env)  # warm: the interpreter, moss's bytecode, the database
        times: dict[str, list[float]] = {name: [] for name in runs}
        for _ in range(repeats):
            for name, argv in runs.items():
                times[name].append(timed(argv, env))
        startup = statistics.median(times.pop("start-up"))
        return [Result(f"repo query: {name}, {packages} packages, warm",
                       statistics.median(t), startup, "python -I -c pass start-up",
                       note=f"{statistics.median(t):.2f} s (goal 0.3 s)")
                for name, t in times.items()]


def run(quick: bool) -> list[Result]:
    return measure(5_000, 3) if quick else measure(100_000, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print_results(measure(args.packages, args.repeats))


if __name__ == "__main__":
    main()
