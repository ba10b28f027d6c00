"""Reading a kernel's module metadata: ``modules.alias``, ``modules.dep``, ``modules.builtin``.

These are the text files ``depmod`` writes beside the modules; they are all
moss needs to decide which module files a machine uses, without loading
anything.  Module names are normalised the way kmod does (``-`` becomes
``_``), because ``modules.alias`` and file names disagree on it.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

MODULE_SUFFIXES = (".ko", ".ko.xz", ".ko.zst", ".ko.gz")


def module_name(path: str) -> str:
    """``kernel/drivers/net/virtio_net.ko.xz`` -> ``virtio_net``."""
    base = path.rsplit("/", 1)[-1]
    for suffix in MODULE_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def is_module_file(path: str) -> bool:
    return path.endswith(MODULE_SUFFIXES)


@dataclass(frozen=True)
class Alias:
    pattern: str
    module: str


@dataclass
class KernelModules:
    """What depmod knows about one kernel: aliases, dependencies and built-ins."""

    kver: str
    aliases: list[Alias] = field(default_factory=list)
    # module name -> its file (relative to lib/modules/<kver>) and its direct dependencies
    files: dict[str, str] = field(default_factory=dict)
    depends: dict[str, list[str]] = field(default_factory=dict)
    builtin: set[str] = field(default_factory=set)
    _by_prefix: dict[str, list[tuple[re.Pattern[str], str]]] = field(
        default_factory=dict, repr=False)

    def match(self, modalias: str) -> list[str]:
        """Every module whose alias pattern matches, as ``modprobe -R`` lists them."""
        if not self._by_prefix:
            for alias in self.aliases:
                compiled = re.compile(fnmatch.translate(alias.pattern))
                self._by_prefix.setdefault(_prefix(alias.pattern), []).append(
                    (compiled, alias.module))
        found: list[str] = []
        candidates = [*self._by_prefix.get(_prefix(modalias), []), *self._by_prefix.get("", [])]
        for compiled, module in candidates:
            if module not in found and compiled.match(modalias):
                found.append(module)
        return found

    def closure(self, modules: Iterable[str]) -> set[str]:
        """The modules and everything they need through ``modules.dep``."""
        seen: set[str] = set()
        todo = [m.replace("-", "_") for m in modules]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo.extend(self.depends.get(name, []))
        return seen


def _prefix(text: str) -> str:
    """The bus part before the first ``:`` when it holds no wildcard; else ``""``.

    Grouping patterns by it means a PCI modalias is only tried against PCI
    aliases, which keeps matching a whole machine well under a second.
    """
    head, sep, _rest = text.partition(":")
    if not sep or any(c in head for c in "*?["):
        return ""
    return head


def parse_alias(text: str) -> list[Alias]:
    aliases = []
    for line in text.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "alias":
            aliases.append(Alias(words[1], words[2].replace("-", "_")))
    return aliases


def parse_dep(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    files: dict[str, str] = {}
    depends: dict[str, list[str]] = {}
    for line in text.splitlines():
        path, sep, deps = line.partition(":")
        if not sep:
            continue
        name = module_name(path.strip())
        files[name] = path.strip()
        depends[name] = [module_name(d) for d in deps.split()]
    return files, depends


def parse_builtin(text: str) -> set[str]:
    return {module_name(line.strip()) for line in text.splitlines() if line.strip()}


def read_kernel_modules(moddir: Path) -> KernelModules:
    """Parse the metadata of ``lib/modules/<kver>``; missing files read as empty."""

    def text(name: str) -> str:
        path = moddir / name
        return path.read_text(errors="replace") if path.is_file() else ""

    return from_texts(moddir.name, text("modules.alias"), text("modules.dep"),
                      text("modules.builtin"))


@functools.lru_cache(maxsize=4)
def from_texts(kver: str, alias: str, dep: str, builtin: str) -> KernelModules:
    """Parsed metadata; cached, since compiling ~25 000 alias patterns takes a second or two.

    The result is shared between callers: treat it as read-only.
    """
    files, depends = parse_dep(dep)
    return KernelModules(kver, parse_alias(alias), files, depends, parse_builtin(builtin))
