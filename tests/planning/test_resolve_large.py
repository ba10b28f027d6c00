"""Resolution on the benchmark's synthetic repository: same closure as a plain graph walk."""

from __future__ import annotations

import pytest

from bench.resolve import baseline_graph, generate
from moss.core.errors import MossError
from moss.planning.resolve import Catalog, install, remove
from moss.repo.index import Offer


def closure(graph: dict[str, list[str]], start: str) -> set[str]:
    seen, stack = {start}, [start]
    while stack:
        for dep in graph[stack.pop()]:
            if dep not in seen:
                seen.add(dep)
                stack.append(dep)
    return seen


def test_closure_matches_graph_walk_and_remove_undoes_it() -> None:
    metas = generate(3000)
    top = metas[-1].name
    plan = install([], set(), Catalog(Offer(m, "main", 0) for m in metas), [top])
    chosen = {o.meta.name for o in plan.add}
    assert chosen == closure(baseline_graph(metas), top)
    assert len(chosen) > 1000
    installed = [o.meta for o in plan.add]
    undo = remove(installed, plan.selected, [top])
    assert {m.name for m in undo.remove} == chosen
    assert undo.keep == []


def test_missing_provider_deep_in_the_graph_names_the_path() -> None:
    metas = generate(3000)
    dropped = metas.pop(10)
    with pytest.raises(MossError) as err:
        install([], set(), Catalog(Offer(m, "main", 0) for m in metas), [metas[-1].name])
    chain = str(err.value).removeprefix("nothing provides ").split(" -> ")
    assert chain[0] == metas[-1].name
    assert dropped.name in chain[-1] or chain[-1] in {str(p) for p in dropped.provides}
