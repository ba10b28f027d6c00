"""Trigger definitions: real moss's files in ``usr/share/moss/triggers``.

Read as real moss reads them (:mod:`moss.core.configfiles`): ``tx.{yaml,kdl}`` and
``tx.d/*.{yaml,kdl}`` for transaction triggers, ``sys.*`` for system triggers,
a KDL file shadowing its YAML twin.  In YAML::

    name: depmod
    description: Update kernel module dependencies
    after: other-trigger            # optional ordering, by trigger name
    handlers:
        depmod:
            run: /usr/sbin/depmod
            args: ["-a", "$(version)"]
    paths:
        "/usr/lib/modules/(version:*)/*":
            handlers: [depmod]
            type: directory         # optional: only directories (or symlink)

A handler may also be ``delete: [paths...]`` (real moss's other kind).  The same
trigger in KDL, as real moss's serde reads it (a list is a node's arguments)::

    name depmod
    description "Update kernel module dependencies"
    handlers {
        depmod {
            run "/usr/sbin/depmod"
            args "-a" "$(version)"
        }
    }
    paths {
        "/usr/lib/modules/(version:*)/*" {
            handlers depmod
            type directory
        }
    }
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from moss.core.configfiles import config_files, read_data
from moss.core.errors import MossError
from moss.triggers.pattern import Pattern, compile_pattern

#: The most a handler may pass to its program, after ``$(name)`` is filled in.  The
#: kernel refuses an argv past ARG_MAX (E2BIG) and one string past 128 KiB
#: (MAX_ARG_STRLEN); a trigger file chooses both, so moss says so in one line first.
MAX_HANDLER_ARGS = 4096
MAX_HANDLER_BYTES = 128 << 10

TX_DIR = Path("share/moss/triggers/tx.d")  # relative to a /usr tree
SYS_DIR = Path("share/moss/triggers/sys.d")


@dataclass(frozen=True)
class Handler:
    """A command to run (``run`` + ``args``), or paths to delete when ``delete`` is set."""

    run: str | None
    args: tuple[str, ...] = ()
    delete: tuple[str, ...] = ()


@dataclass(frozen=True)
class PathRule:
    pattern: Pattern
    handlers: tuple[str, ...]
    kind: str | None  # "directory", "symlink" or None for any


@dataclass(frozen=True)
class Trigger:
    name: str
    description: str
    before: str | None
    after: str | None
    handlers: dict[str, Handler]
    paths: tuple[PathRule, ...]


def _strings(value: Any, where: str) -> tuple[str, ...]:
    """A list of strings; from KDL also one argument, none, or ``- item`` children."""
    if value is None:
        return ()
    if isinstance(value, str | int) and not isinstance(value, bool):
        value = [value]
    if isinstance(value, dict) and list(value) == ["-"]:
        value = value["-"] if isinstance(value["-"], list) else [value["-"]]
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise MossError(f"{where}: expected a list of strings")
    return tuple(str(v) for v in value)


def check_handler_size(handler: Handler, where: str) -> Handler:
    """``handler`` if its command line fits what the kernel runs, else a MossError.

    Checked when the trigger is read and again once its variables are filled in.
    """
    words = (handler.run or "", *handler.args, *handler.delete)
    size = sum(len(word.encode(errors="surrogateescape")) + 1 for word in words)
    if len(words) > MAX_HANDLER_ARGS or size > MAX_HANDLER_BYTES:
        raise MossError(
            f"{where}: the handler passes {len(words) - 1} arguments ({size} bytes); "
            f"at most {MAX_HANDLER_ARGS} arguments and {MAX_HANDLER_BYTES} bytes are allowed"
        )
    return handler


def _handler(raw: Any, where: str) -> Handler:
    if isinstance(raw, dict) and isinstance(raw.get("run"), str):
        handler = Handler(run=raw["run"], args=_strings(raw.get("args", []), where))
    elif isinstance(raw, dict) and "delete" in raw:
        handler = Handler(run=None, delete=_strings(raw["delete"], where))
    else:
        raise MossError(f"{where}: a handler needs 'run' (and 'args') or 'delete'")
    return check_handler_size(handler, where)


def parse_trigger(data: Any, where: str) -> Trigger:
    if not isinstance(data, dict) or not isinstance(data.get("name"), str):
        raise MossError(f"{where}: a trigger needs a 'name'")
    name = data["name"]
    raw_handlers = data.get("handlers") or {}
    raw_paths = data.get("paths") or {}
    if not isinstance(raw_handlers, dict) or not isinstance(raw_paths, dict):
        raise MossError(f"{where}: 'handlers' and 'paths' must be mappings")
    handlers = {
        str(k): _handler(v, f"{where}: handler {k}") for k, v in raw_handlers.items()
    }
    rules = []
    for text, rule in raw_paths.items():
        if not isinstance(rule, dict):
            raise MossError(f"{where}: path {text!r} must be a mapping")
        used = _strings(rule.get("handlers", []), f"{where}: path {text!r}")
        for handler in used:
            if handler not in handlers:
                raise MossError(f"{where}: path {text!r} uses unknown handler {handler!r}")
        kind = rule.get("type")
        if kind not in (None, "directory", "symlink"):
            raise MossError(f"{where}: path {text!r} has unknown type {kind!r}")
        rules.append(PathRule(compile_pattern(str(text), where), used, kind))
    before, after = data.get("before"), data.get("after")
    return Trigger(
        name=name,
        description=str(data.get("description") or ""),
        before=str(before) if before else None,
        after=str(after) if after else None,
        handlers=handlers,
        paths=tuple(rules),
    )


def load_triggers(directory: Path, root: Path | None = None) -> list[Trigger]:
    """The triggers of one scope, given its ``tx.d`` (or ``sys.d``) folder.

    Reads ``tx.{yaml,kdl}`` beside it and every ``tx.d/*.{yaml,kdl}`` sorted by
    name, KDL over YAML; a bad file is a MossError naming it.  With ``root`` (the
    state's root, ``directory`` below it) every file is read inside that root.
    """
    domain = directory.name.removesuffix(".d")
    return [parse_trigger(read_data(path, root), str(path))
            for path in config_files([directory.parent], domain, root)]
