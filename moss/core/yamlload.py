"""YAML configuration loaded with bounds: depth, node count and aliases, checked first.

PyYAML's composer and constructor recurse once per nesting level, so a file of a
thousand ``[`` was a ``RecursionError`` in every command that read it; anchors
and aliases can make a small file stand for a huge or a self-containing value
(``&a [*a]``) that any later walk never finishes.  The file is first read as a
stream of events (PyYAML's parser keeps an explicit stack, it never recurses),
and the value it *describes* -- aliases expanded -- is measured: deeper than
:data:`MAX_DEPTH` or larger than :data:`MAX_NODES`, or an alias to a node still
open, is one error naming the file.  Only then is it composed, safely.  The
caller has already bounded the file's size (:mod:`moss.core.confined`).
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml

from moss.core.errors import MossError

MAX_DEPTH = 32  # real moss's configuration files need 4 or 5
MAX_NODES = 100_000  # scalars and collections, aliases counted as what they stand for

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class _Open:
    anchor: str | None
    depth: int = 0  # of the deepest child so far
    size: int = 1


def _measure(text: str, source: str) -> None:
    anchors: dict[str, tuple[int, int]] = {}  # name -> (depth, expanded size)
    stack: list[_Open] = []
    total = 0

    def child(depth: int, size: int) -> None:
        """A finished value of ``depth`` levels and ``size`` values joins its parent."""
        nonlocal total
        if stack:
            stack[-1].depth = max(stack[-1].depth, depth)
            stack[-1].size += size
            grown = stack[-1].size
        else:
            total += size
            grown = total
        if len(stack) + depth > MAX_DEPTH:
            raise MossError(f"{source}: nested deeper than {MAX_DEPTH} levels; refused")
        if grown > MAX_NODES:
            raise MossError(f"{source}: describes more than {MAX_NODES} values; refused")

    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.CollectionStartEvent):
            stack.append(_Open(event.anchor))
            if len(stack) > MAX_DEPTH:
                raise MossError(f"{source}: nested deeper than {MAX_DEPTH} levels; refused")
        elif isinstance(event, yaml.CollectionEndEvent):
            done = stack.pop()
            if done.anchor is not None:
                anchors[done.anchor] = (done.depth + 1, done.size)
            child(done.depth + 1, done.size)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                anchors[event.anchor] = (1, 1)
            child(1, 1)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in anchors:  # unknown, or still open: a value inside itself
                raise MossError(f"{source}: alias *{event.anchor} refers to no finished "
                                "value; refused")
            child(*anchors[event.anchor])


def load_yaml(text: str, source: str) -> object:
    """``yaml.safe_load`` of a configuration file's text, bounded; one MossError otherwise.

    Every error a value can cause while loading (a timestamp out of range, an
    integer of 5000 digits, an unknown tag) is that same one line.
    """
    try:
        _measure(text, source)
        return yaml.load(text, Loader=_Loader)
    except MossError:
        raise
    except (yaml.YAMLError, ValueError, OverflowError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MossError(f"{source}: not valid YAML: {first[:200]}") from None
