"""Globs over paths of ``/usr``: ``*`` and ``?`` stop at ``/``, ``**`` crosses it,
and a pattern that matches a directory covers everything below it.

Kept apart from the rules (:mod:`moss.subscriptions.filter`) so that the
definitions' own checks (:mod:`moss.subscriptions.config`) can match too.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable


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
