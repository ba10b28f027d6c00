"""Which paths of a tree the active subscriptions drop, by glob.

Globs are relative to ``/usr``: ``*`` and ``?`` stop at ``/``, ``**`` crosses
it, and a pattern that matches a directory covers everything below it.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from moss.subscriptions.config import Definition


def _normalise(pattern: str) -> str:
    for prefix in ("/usr/", "usr/", "/"):
        if pattern.startswith(prefix):
            pattern = pattern[len(prefix):]
            break
    return pattern.rstrip("/")


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    text = _normalise(pattern)
    while i < len(text):
        if text.startswith("**", i):
            out.append(".*")
            i += 2
        elif text[i] == "*":
            out.append("[^/]*")
            i += 1
        elif text[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(text[i]))
            i += 1
    # The path itself, or anything below it.
    return re.compile("".join(out) + r"(?:/.*)?\Z", re.DOTALL)


def matches(patterns: Iterable[str], target: str) -> bool:
    return any(_compile(p).match(target) for p in patterns)


class PathRules:
    """The keep/drop verdict of a set of definitions, some on, some off."""

    def __init__(self, definitions: Sequence[Definition], active: Iterable[str]) -> None:
        on = set(active)
        self.active_keep = [p for d in definitions if d.name in on for p in d.keep]
        self.active_drop = [p for d in definitions if d.name in on for p in d.drop]
        self.inactive_keep = [p for d in definitions if d.name not in on for p in d.keep]

    def dropped(self, target: str) -> bool:
        if matches(self.active_keep, target):
            return False
        return matches(self.active_drop, target) or matches(self.inactive_keep, target)
