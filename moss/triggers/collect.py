"""Which handlers a tree triggers, in which order, each identical command once."""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from moss.core.errors import MossError
from moss.triggers.definition import MAX_HANDLER_BYTES, Handler, Trigger, check_handler_size
from moss.triggers.pattern import substitute


@dataclass(frozen=True)
class Command:
    """One handler with its ``$(name)`` variables filled in."""

    trigger: str
    handler: Handler

    def describe(self) -> str:
        if self.handler.run is None:
            return "delete " + " ".join(self.handler.delete)
        return " ".join((self.handler.run, *self.handler.args))


def walk_tree(usr: Path) -> Iterator[tuple[str, str]]:
    """``("/usr/...", kind)`` for everything below a ``/usr`` tree (kind: directory,
    symlink or file); symlinks are reported, never followed.

    ``scandir`` gives each entry's type from the directory itself, so the walk
    costs no ``lstat`` per file: it runs over every file of every new state.
    """
    stack = [(str(usr), "/usr")]
    while stack:
        directory, base = stack.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                path = f"{base}/{entry.name}"
                if entry.is_symlink():
                    yield path, "symlink"
                elif entry.is_dir(follow_symlinks=False):
                    yield path, "directory"
                    stack.append((entry.path, path))
                else:
                    yield path, "file"


def _order(triggers: Sequence[Trigger], hit: set[str]) -> list[str]:
    """Topological order of the hit triggers by ``before``/``after``; ties by name."""
    after: dict[str, set[str]] = {name: set() for name in hit}  # name -> must run first
    for trigger in triggers:
        if trigger.name not in hit:
            continue
        if trigger.after in hit:
            after[trigger.name].add(trigger.after)
        if trigger.before in hit:
            after[trigger.before].add(trigger.name)
    waiting = {name: len(deps) for name, deps in after.items()}
    unblocks: dict[str, list[str]] = {}  # name -> who waits for it: no scan of every trigger
    for other, deps in after.items():
        for dep in deps:
            unblocks.setdefault(dep, []).append(other)
    ready = [name for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for other in unblocks.get(name, ()):
            waiting[other] -= 1
            if waiting[other] == 0:
                heapq.heappush(ready, other)
    if len(order) != len(hit):
        cycle = sorted(hit - set(order))
        raise MossError(f"triggers order each other in a cycle: {', '.join(cycle)}")
    return order


def _fill(handler: Handler, variables: dict[str, str], where: str) -> Handler:
    """``handler`` with its variables filled in, within the size a command line may have:
    the budget shrinks word by word, so no filled-in handler is ever built past it."""
    budget = MAX_HANDLER_BYTES

    def fill(word: str) -> str:
        nonlocal budget
        filled = substitute(word, variables, budget, where)
        budget -= len(filled) + 1
        return filled

    return check_handler_size(Handler(
        run=fill(handler.run) if handler.run else None,
        args=tuple(fill(a) for a in handler.args),
        delete=tuple(fill(d) for d in handler.delete),
    ), where)


def collect(triggers: Sequence[Trigger], paths: Iterable[tuple[str, str]]) -> list[Command]:
    """The commands ``paths`` trigger, ordered, with duplicates (after expansion) dropped."""
    if not triggers:
        return []  # nothing to match: do not walk a tree of 100 000 files for nothing
    names = [t.name for t in triggers]
    if len(set(names)) != len(names):
        raise MossError(f"duplicate trigger names in {sorted(names)}")
    hits: dict[str, list[Handler]] = {}
    rules = [(t, rule) for t in triggers for rule in t.paths]
    for path, kind in paths:
        for trigger, rule in rules:
            if rule.kind is not None and rule.kind != kind:
                continue
            variables = rule.pattern.match(path)
            if variables is None:
                continue
            for handler_name in rule.handlers:
                handler = trigger.handlers[handler_name]
                compiled = _fill(handler, variables, f"trigger {trigger.name} ({path!r})")
                found = hits.setdefault(trigger.name, [])
                if compiled not in found:
                    found.append(compiled)
    commands: list[Command] = []
    seen: set[Handler] = set()
    for name in _order(triggers, set(hits)):
        for handler in sorted(hits[name], key=lambda h: (h.run or "", h.args, h.delete)):
            if handler not in seen:
                seen.add(handler)
                commands.append(Command(name, handler))
    return commands
