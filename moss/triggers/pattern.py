"""Trigger path patterns, with real moss's syntax, matched in linear time.

``*`` matches within one path component, ``?`` any one character, and
``(name:glob)`` captures what ``glob`` matched as ``$(name)`` for the handler's
arguments: ``/usr/lib/modules/(version:*)/*`` matches
``/usr/lib/modules/6.6.7/kernel`` with ``version = 6.6.7``.  The whole path
must match.

Why not a regular expression: Python's ``re`` backtracks, and a package's trigger
file chooses the pattern.  ``*`` fourteen times against a 60-character name held
``install`` (and its lock) at 100 % CPU for minutes (issue 23).  Here a pattern is
a small automaton (state ``j``: the first ``j`` tokens matched) whose set of live
states is one integer bitmask, advanced once per character of the path with a
fixed number of integer operations: time is linear in the path, with a factor of
the pattern's length in 64-bit words.  Captures, when a pattern has any, are read
back from the per-character state sets by one backward walk, also linear.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from moss.core.errors import MossError

_STAR, _ANY = "*", "?"
# ``?`` was a regex ``.``, which matches anything but a newline: kept as it was.
_ANY_EXCLUDES = "\n"


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern: its tokens (``*``, ``?`` or one literal character) and captures.

    Bit ``j`` of a state set means "the first ``j`` tokens have matched".
    """

    text: str
    tokens: tuple[str, ...]
    literal: tuple[bool, ...]  # token j is a literal character (else * or ?)
    captures: tuple[tuple[str, int, int], ...]  # name, first token, token after the last
    _stars: int = field(repr=False)  # bits of the * tokens
    _any: int = field(repr=False)  # bits of the ? tokens
    _runs: tuple[int, int, int] = field(repr=False)  # first bit, last bit, all bits of * runs
    _literals: dict[str, int] = field(repr=False, compare=False)  # char: its literal tokens' bits

    def _closure(self, states: int) -> int:
        """Add what ``*`` matching nothing reaches: in each run of stars, every bit
        from the lowest live one up to the token after the run.

        Carry arithmetic does it for all runs at once (Navarro and Raffinot's
        epsilon-closure for optional classes): the run's last bit is set before
        subtracting its first, so the borrow never leaves the run.
        """
        first, last, span = self._runs
        if not span:
            return states
        high = states | last
        return states | (span & ((~(high - first)) ^ high))

    def _advance_mask(self, char: str) -> int:
        """The tokens that ``char`` lets the automaton step past: one dictionary look-up."""
        return self._literals.get(char, 0) | (0 if char in _ANY_EXCLUDES else self._any)

    def _step(self, states: int, char: str) -> int:
        moved = (states & self._advance_mask(char)) << 1
        stayed = states & self._stars if char != "/" else 0
        return self._closure(moved | stayed)

    def match(self, path: str) -> dict[str, str] | None:
        """The captured variables if ``path`` matches, else None."""
        accept = 1 << len(self.tokens)
        states = self._closure(1)
        if not self.captures:
            for char in path:
                states = self._step(states, char)
                if not states:
                    return None
            return {} if states & accept else None
        history = [states]
        for char in path:
            states = self._step(states, char)
            if not states:
                return None
            history.append(states)
        if not states & accept:
            return None
        return self._read_captures(path, history)

    def _read_captures(self, path: str, history: list[int]) -> dict[str, str]:
        """Walk back from the accepting state through live states only, so every step
        has a way on; a star gives up characters to the stars before it, as the
        regular expression's greedy ``*`` did."""
        starts = [0] * (len(self.tokens) + 1)
        i, state = len(path), len(self.tokens)
        while state > 0 or i > 0:
            before = state - 1
            if before >= 0 and self.tokens[before] == _STAR and history[i] >> before & 1:
                starts[state], state = i, before  # the star before ends here
            elif before >= 0 and self.tokens[before] != _STAR and i > 0 \
                    and self._advance_mask(path[i - 1]) >> before & 1 \
                    and history[i - 1] >> before & 1:
                starts[state], state, i = i, before, i - 1  # a ? or literal took it
            else:
                i -= 1  # this star takes one more character
        return {name: path[starts[first]:starts[end]] for name, first, end in self.captures}


def _tokens(text: str, where: str) -> tuple[list[str], list[bool], list[tuple[str, int, int]]]:
    tokens: list[str] = []
    literal: list[bool] = []
    captures: list[tuple[str, int, int]] = []

    def add(part: str) -> None:
        for char in part:
            tokens.append(char)
            literal.append(char not in (_STAR, _ANY))

    i = 0
    while i < len(text):
        if text[i] == "(":
            end = text.find(")", i)
            name, sep, inner = text[i + 1 : end].partition(":") if end != -1 else ("", "", "")
            if end == -1 or not sep or not name.isidentifier() or "(" in inner:
                raise MossError(f"{where}: malformed capture in pattern {text!r}")
            if any(name == other for other, _, _ in captures):
                raise MossError(f"{where}: invalid pattern {text!r}: capture {name!r} twice")
            first = len(tokens)
            add(inner)
            captures.append((name, first, len(tokens)))
            i = end + 1
        else:
            add(text[i])
            i += 1
    return tokens, literal, captures


def compile_pattern(text: str, where: str = "trigger") -> Pattern:
    tokens, literal, captures = _tokens(text, where)
    stars = anys = first = last = span = 0
    literals: dict[str, int] = {}
    for j, token in enumerate(tokens):
        if literal[j]:
            literals[token] = literals.get(token, 0) | 1 << j
        elif token == _STAR:
            stars |= 1 << j
            span |= 1 << j | 1 << (j + 1)
            if j == 0 or tokens[j - 1] != _STAR:
                first |= 1 << j
            if j + 1 == len(tokens) or tokens[j + 1] != _STAR:
                last |= 1 << (j + 1)
        elif token == _ANY:
            anys |= 1 << j
    return Pattern(text, tuple(tokens), tuple(literal), tuple(captures),
                   stars, anys, (first, last, span), literals)


def substitute(value: str, variables: dict[str, str], limit: int | None = None,
               where: str = "trigger") -> str:
    """``value`` with each ``$(name)`` filled in; past ``limit`` characters a MossError,
    raised before the string is built (a short argument naming a long capture many
    times would otherwise grow without bound)."""
    for key, captured in variables.items():
        marker = f"$({key})"
        if limit is not None:
            grown = len(value) + value.count(marker) * (len(captured) - len(marker))
            if grown > limit:
                raise MossError(f"{where}: filling in {marker} makes an argument of "
                                f"{grown} characters; at most {limit} are allowed")
        value = value.replace(marker, captured)
    return value
