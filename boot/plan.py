"""Which states get boot entries, and which entry is the default."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from boot.model import BootState
from boot.statetree.kernels import Kernel, discover
from moss.core.errors import MossError


@dataclass(frozen=True)
class Chosen:
    state: BootState
    kernels: tuple[Kernel, ...]
    pending: bool


def choose(
    states: Sequence[BootState], active: int, pending: int | None, keep: int
) -> tuple[list[Chosen], tuple[int, str] | None]:
    """The states that get entries (newest first) and the default ``(state, kver)``.

    The active and pending states always get entries; of the others, the
    newest ``keep`` that have a kernel.  A state without a kernel gets none.
    """
    by_id = {s.id: s for s in states}
    if active not in by_id:
        raise MossError(f"the active state {active} is not among the states on disk")
    if pending is not None and pending not in by_id:
        raise MossError(f"the pending state {pending} is not among the states on disk")
    chosen: list[Chosen] = []
    older = 0
    for state in sorted(states, key=lambda s: s.id, reverse=True):
        kernels = tuple(discover(state.usr))
        if not kernels:
            continue
        if state.id in (active, pending):
            chosen.append(Chosen(state, kernels, state.id == pending))
        elif older < keep:
            older += 1
            chosen.append(Chosen(state, kernels, False))
    default: tuple[int, str] | None = None
    for wanted in (pending, active):
        for c in chosen:
            if c.state.id == wanted and default is None:
                default = (c.state.id, c.kernels[0].kver)
    return chosen, default
