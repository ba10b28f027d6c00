"""Trigger path patterns, with real moss's syntax.

``*`` matches within one path component, ``?`` any one character, and
``(name:glob)`` captures what ``glob`` matched as ``$(name)`` for the handler's
arguments: ``/usr/lib/modules/(version:*)/*`` matches
``/usr/lib/modules/6.6.7/kernel`` with ``version = 6.6.7``.  The whole path
must match.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from moss.core.errors import MossError


@dataclass(frozen=True)
class Pattern:
    text: str
    regex: re.Pattern[str]

    def match(self, path: str) -> dict[str, str] | None:
        """The captured variables if ``path`` matches, else None."""
        found = self.regex.fullmatch(path)
        return None if found is None else found.groupdict()


def _translate(text: str, where: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(text):
        char = text[i]
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append(".")
        elif char == "(":
            end = text.find(")", i)
            name, sep, inner = text[i + 1 : end].partition(":") if end != -1 else ("", "", "")
            if end == -1 or not sep or not name.isidentifier() or "(" in inner:
                raise MossError(f"{where}: malformed capture in pattern {text!r}")
            out.append(f"(?P<{name}>{_translate(inner, where)})")
            i = end
        else:
            out.append(re.escape(char))
        i += 1
    return "".join(out)


def compile_pattern(text: str, where: str = "trigger") -> Pattern:
    try:
        return Pattern(text, re.compile(_translate(text, where)))
    except re.error as exc:
        raise MossError(f"{where}: invalid pattern {text!r}: {exc}") from None


def substitute(value: str, variables: dict[str, str]) -> str:
    for key, captured in variables.items():
        value = value.replace(f"$({key})", captured)
    return value
