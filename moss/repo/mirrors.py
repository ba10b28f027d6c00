"""Which of a repository's URIs to ask, in which order, and which one answered.

A repository lists its ``uri`` and, as this moss's addition, ``mirrors``: more
URIs of the same index (real moss reads ``uri`` only).  They are tried in that
order.  One that fails (an error, a timeout, a stall) or whose index is refused
(not an index, a bad signature, older than the one in use) gets a *penalty*: it
is tried after every unpenalized one for :data:`BASE_PENALTY` seconds, doubled
at each further failure up to :data:`MAX_PENALTY`, and forgiven when it answers
again.  The penalties and the URI that answered last live in
``<repo folder>/mirrors.json`` beside the index (real moss's folder; it ignores
the file); packages are fetched from the URI that answered, since the index
names them relative to itself, then from the others (:class:`moss.repo.cache.Download`
``alternates``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from moss.core.fs import atomic_write

STATE_NAME = "mirrors.json"
BASE_PENALTY = 600.0
MAX_PENALTY = 86_400.0


@dataclass(frozen=True)
class Penalty:
    failures: int
    until: float
    reason: str


@dataclass
class MirrorState:
    """What ``mirrors.json`` remembers."""

    answered: str | None
    penalties: dict[str, Penalty]


def load(target: Path) -> MirrorState:
    """The remembered state; a missing or damaged file is a fresh start."""
    try:
        raw = json.loads((target / STATE_NAME).read_text())
        answered = raw.get("answered")
        penalties = {str(url): Penalty(int(p["failures"]), float(p["until"]), str(p["reason"]))
                     for url, p in raw.get("penalties", {}).items()}
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return MirrorState(None, {})
    return MirrorState(answered if isinstance(answered, str) else None, penalties)


def _save(target: Path, state: MirrorState) -> None:
    data = {"answered": state.answered,
            "penalties": {url: asdict(p) for url, p in state.penalties.items()}}
    atomic_write(target / STATE_NAME, json.dumps(data, indent=1).encode() + b"\n")


def order(target: Path, candidates: Sequence[str], now: float | None = None) -> list[str]:
    """``candidates`` in their configured order, those under a penalty last (the one
    whose penalty ends first leading them): a penalized mirror is still a last resort."""
    now = time.time() if now is None else now
    penalties = load(target).penalties
    free = [url for url in candidates if url not in penalties or penalties[url].until <= now]
    held = sorted((url for url in candidates if url not in free),
                  key=lambda url: penalties[url].until)
    return free + held


def penalize(target: Path, url: str, reason: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    state = load(target)
    previous = state.penalties.get(url)
    failures = previous.failures + 1 if previous else 1
    hold = min(MAX_PENALTY, BASE_PENALTY * 2 ** (failures - 1))
    state.penalties[url] = Penalty(failures, now + hold, reason)
    _save(target, state)


def record_answer(target: Path, url: str) -> None:
    """``url`` served the index in use: packages come from it, and its penalty ends."""
    state = load(target)
    state.penalties.pop(url, None)
    state.answered = url
    _save(target, state)
