"""libsolv's side of the resolution benchmark, run by Debian's /usr/bin/python3.

``python3-solv`` is built for the system interpreter, not the project's venv, so
this script runs in its own process and imports nothing from moss.  It reads the
problem (packages with provides and requires as plain strings, and the package to
install) from a JSON file, and times inside itself so that interpreter start-up
is not counted.  It prints JSON: median seconds to build the pool (solvables and
the what-provides index) and to solve, and the size of the install set.

    /usr/bin/python3 bench/solv_closure.py PROBLEM.json RUNS
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Any

import solv  # type: ignore[import-not-found]


def build_pool(packages: list[dict[str, Any]]) -> Any:
    pool = solv.Pool()
    pool.setarch("x86_64")
    repo = pool.add_repo("bench")
    for package in packages:
        s = repo.add_solvable()
        s.name = package["name"]
        s.evr = package["evr"]
        s.arch = "x86_64"
        s.add_provides(pool.Dep(package["name"]))
        for provide in package["provides"]:
            s.add_provides(pool.Dep(provide))
        for require in package["requires"]:
            s.add_requires(pool.Dep(require))
    repo.internalize()
    pool.installed = pool.add_repo("installed")
    pool.createwhatprovides()
    return pool


def solve(pool: Any, target: str) -> int:
    jobs = pool.select(target, solv.Selection.SELECTION_NAME).jobs(solv.Job.SOLVER_INSTALL)
    solver = pool.Solver()
    problems = solver.solve(jobs)
    if problems:
        raise SystemExit(f"libsolv found problems: {[str(p) for p in problems]}")
    return len(solver.transaction().newsolvables())


def main() -> int:
    with open(sys.argv[1]) as f:
        problem = json.load(f)
    runs = int(sys.argv[2])
    build_times, solve_times = [], []
    installed = 0
    for _ in range(runs):
        start = time.perf_counter()
        pool = build_pool(problem["packages"])
        built = time.perf_counter()
        installed = solve(pool, problem["target"])
        build_times.append(built - start)
        solve_times.append(time.perf_counter() - built)
    print(json.dumps({"build": statistics.median(build_times),
                      "solve": statistics.median(solve_times), "installed": installed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
