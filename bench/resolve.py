"""How fast is resolution on a large synthetic repository?

Generates N packages where package ``i`` provides ``soname(libpI.so.1(x86_64))``
and ``pkgconfig(pI)`` and depends on a few lower-numbered packages through those
providers (plus a bare name now and then), so the closure of the last package
spans thousands of packages.  It then times:

* ``Catalog`` construction (indexing every provider once);
* ``install`` of the top package into an empty system, on a warm catalog
  (provider strings cached) and with a fresh one (the real cost of a command);
* a baseline: plain BFS over the same graph as ``dict[str, list[str]]`` of
  package names, i.e. the least work any resolver must do;
* a peer: libsolv (Debian's ``python3-solv``) on the same problem, in its own
  ``/usr/bin/python3`` process (``bench/solv_closure.py``), timed inside it:
  building the pool (solvables + what-provides) and solving the install job.

Printed as absolute times and the ratio resolver / baseline (median of runs).
Run: ``.venv/bin/python -m bench.resolve [--packages 30000] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from bench.common import Result, print_results, workdir
from moss.planning.resolve import Catalog, install
from moss.repo.index import Offer
from moss.stone import Dependency, DependencyKind, PackageMeta


def generate(count: int, seed: int = 7) -> list[PackageMeta]:
    rng = random.Random(seed)
    metas = []
    for i in range(count):
        depends = []
        if i:
            for target in {rng.randrange(max(0, i - 400), i) for _ in range(3)}:
                if target % 5 == 0:
                    depends.append(Dependency(DependencyKind.PACKAGE_NAME, f"p{target}"))
                elif target % 2:
                    depends.append(
                        Dependency(DependencyKind.SONAME, f"libp{target}.so.1(x86_64)")
                    )
                else:
                    depends.append(Dependency(DependencyKind.PKGCONFIG, f"p{target}"))
        metas.append(
            PackageMeta(
                name=f"p{i}",
                version="1.0",
                release=1 + i % 3,
                depends=depends,
                provides=[
                    Dependency(DependencyKind.SONAME, f"libp{i}.so.1(x86_64)"),
                    Dependency(DependencyKind.PKGCONFIG, f"p{i}"),
                ],
            )
        )
    return metas


def baseline_graph(metas: list[PackageMeta]) -> dict[str, list[str]]:
    """Dependencies already turned into package names: what BFS alone costs."""
    owner = {}
    for meta in metas:
        owner[meta.name] = meta.name
        for p in meta.provides:
            owner[str(p)] = meta.name
    return {m.name: [owner[str(d)] for d in m.depends] for m in metas}


def bfs(graph: dict[str, list[str]], start: str) -> int:
    seen = {start}
    queue = deque([start])
    while queue:
        for dep in graph[queue.popleft()]:
            if dep not in seen:
                seen.add(dep)
                queue.append(dep)
    return len(seen)


def timed(func: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


SOLV_SCRIPT = Path(__file__).resolve().parent / "solv_closure.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def solv_problem(metas: list[PackageMeta], target: str) -> dict[str, object]:
    packages = [{"name": m.name, "evr": f"{m.version}-{m.release}",
                 "provides": [str(p) for p in m.provides],
                 "requires": [str(d) for d in m.depends]} for m in metas]
    return {"packages": packages, "target": target}


def run_libsolv(metas: list[PackageMeta], target: str, runs: int) -> dict[str, float] | str:
    """libsolv's median (build, solve) seconds and install count, or why it did not run."""
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import solv"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        return "python3-solv not installed (apt-get install python3-solv)"
    with workdir("solv") as work:
        problem = work / "problem.json"
        problem.write_text(json.dumps(solv_problem(metas, target)))
        proc = subprocess.run([SYSTEM_PYTHON, str(SOLV_SCRIPT), str(problem), str(runs)],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{SOLV_SCRIPT.name} failed: {proc.stderr.strip()}")
    result: dict[str, float] = json.loads(proc.stdout)
    return result


def measure(packages: int, runs: int) -> list[Result]:
    metas = generate(packages)
    offers = [Offer(m, "main", 0) for m in metas]
    top = metas[-1].name
    graph = baseline_graph(metas)
    catalog = Catalog(offers)
    closure = bfs(graph, top)
    plan = install([], set(), catalog, [top])
    if len(plan.add) != closure:
        raise RuntimeError(f"moss resolved {len(plan.add)} packages, BFS found {closure}")
    t_fresh = timed(lambda: install([], set(), Catalog(offers), [top]), runs)
    t_warm = timed(lambda: install([], set(), catalog, [top]), runs)
    t_bfs = timed(lambda: bfs(graph, top), runs)
    name = f"resolve: closure of {closure} in {packages} packages"
    results = [Result(f"{name} (index + resolve)", t_fresh, t_bfs, "dict BFS (limit)")]
    solv = run_libsolv(metas, top, runs)
    if isinstance(solv, str):
        results.append(Result(f"{name} (index + resolve)", t_fresh, None,
                              "libsolv pool + solve", note=f"not measured: {solv}"))
        return results
    if solv["installed"] != closure:
        raise RuntimeError(f"libsolv installs {solv['installed']} packages, BFS found {closure}")
    results.append(Result(f"{name} (index + resolve)", t_fresh, solv["build"] + solv["solve"],
                          "libsolv pool + solve"))
    results.append(Result(f"{name} (resolve, warm index)", t_warm, solv["solve"],
                          "libsolv solve, warm pool"))
    return results


def run(quick: bool) -> list[Result]:
    return measure(5_000, 3) if quick else measure(30_000, 5)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=30000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print_results(measure(args.packages, args.runs))


if __name__ == "__main__":
    main()
