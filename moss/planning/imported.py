"""The selection a system model describes, resolved against its repositories.

``moss sync --import FILE`` (real moss's ``resolve_with_system_model``): the new
state holds the model's packages and what they need, newest from the model's
repositories, and nothing else; an installed package outside that closure goes.
"""

from __future__ import annotations

from collections.abc import Sequence

from moss.core.errors import MossError
from moss.planning.resolve import Catalog, Plan, _as_offer, _Closure, _plan
from moss.stone import PackageMeta


def exactly(installed: Sequence[PackageMeta], catalog: Catalog, names: Sequence[str]) -> Plan:
    """``names`` (package names or providers) and their closure; the rest is removed.

    A name no repository offers may still be met by an installed package (a
    local ``.stone``), which is then kept.
    """
    closure = _Closure(catalog, installed, prefer_installed=False, upgrade_only=False)
    by_name = {m.name: m for m in installed}
    selected: set[str] = set()
    for name in names:
        existing = closure.provided.get(name)
        if existing is not None:
            selected.add(existing)
            continue
        offer = catalog.best(name) or closure.pick(name)
        if offer is None and name in by_name:
            offer = _as_offer(by_name[name])
        if offer is None:
            raise MossError(f"no package named or providing {name!r} in the system model's "
                            "repositories")
        closure.choose(offer, None)
        selected.add(offer.meta.name)
        closure.run()
    closure.check()
    return _plan(installed, closure, selected)
