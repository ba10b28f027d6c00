"""How fast is resolution on a large synthetic repository?

Generates N packages where package ``i`` provides ``soname(libpI.so.1(x86_64))``
and ``pkgconfig(pI)`` and depends on a few lower-numbered packages through those
providers (plus a bare name now and then), so the closure of the last package
spans thousands of packages.  It then times:

* ``Catalog`` construction (indexing every provider once);
* ``install`` of the top package into an empty system, on a warm catalog
  (provider strings cached) and with a fresh one (the real cost of a command);
* a baseline: plain BFS over the same graph as ``dict[str, list[str]]`` of
  package names, i.e. the least work any resolver must do.

Printed as absolute times and the ratio resolver / baseline (median of runs).
Run: ``.venv/bin/python -m bench.resolve [--packages 30000] [--runs 5]``.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from collections import deque
from collections.abc import Callable

from moss.repo.index import Offer
from moss.resolve import Catalog, install
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", type=int, default=30000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    metas = generate(args.packages)
    offers = [Offer(m, "main", 0) for m in metas]
    top = metas[-1].name
    graph = baseline_graph(metas)
    catalog = Catalog(offers)
    closure = bfs(graph, top)
    plan = install([], set(), catalog, [top])
    assert len(plan.add) == closure, (len(plan.add), closure)

    t_catalog = timed(lambda: Catalog(offers), args.runs)
    t_fresh = timed(lambda: install([], set(), Catalog(offers), [top]), args.runs)
    t_install = timed(lambda: install([], set(), catalog, [top]), args.runs)
    t_bfs = timed(lambda: bfs(graph, top), args.runs)
    print(f"packages in repository     {args.packages}")
    print(f"closure of {top:<15} {closure} packages")
    print(f"Catalog (index providers)  {t_catalog * 1000:8.1f} ms")
    print(f"install, warm catalog      {t_install * 1000:8.1f} ms")
    print(f"catalog + install, fresh   {t_fresh * 1000:8.1f} ms")
    print(f"baseline dict BFS          {t_bfs * 1000:8.1f} ms")
    print(f"install warm / baseline    {t_install / t_bfs:8.1f}x")
    print(f"fresh / baseline           {t_fresh / t_bfs:8.1f}x")


if __name__ == "__main__":
    main()
