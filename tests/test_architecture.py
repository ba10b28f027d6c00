"""The layers of the code, as the folders show them, and no import cycles.

Every import in ``moss/``, ``boot/`` and ``initrd/`` is read from the source
(function-local imports included: a cycle hidden in a function is still a cycle)
and checked against the table below.  A package may import from packages of a
lower rank and from itself, never from its own rank or above.  The README's
"Architecture" section is this table in words.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]

# (package, rank): the lowest layer first.  The longest matching prefix wins.
LAYERS: dict[str, int] = {
    "moss": 0,  # moss/__init__.py: the version, nothing else
    "moss.core": 0,
    "moss.stone": 0,
    "moss.db": 1,
    "moss.repo": 1,
    "moss.stonetools": 1,
    "moss.triggers": 1,
    "boot": 1,
    "moss.store": 2,
    "moss.tree": 3,
    "moss.planning": 3,
    "moss.subscriptions": 4,
    "moss.states": 5,
    "moss.actions": 6,
    "moss.cli": 7,
    "moss.__main__": 8,
    "initrd": 1,  # above the core: it imports the on-disk contract, moss.core.ondisk
}

# Packages that may import only what is listed here from the project, whatever
# their rank: the format depends on nothing, ``boot/`` only on the core, and the
# initramfs agent on nothing of moss but the on-disk contract it shares with it
# (a standard-library-only module: tests/initrd/test_ondisk_contract.py pins that).
ONLY: dict[str, tuple[str, ...]] = {
    "moss.stone": ("moss.stone",),
    "moss.core": ("moss.core",),
    "boot": ("boot", "moss.core"),
    "initrd": ("initrd", "moss.core.ondisk"),
}


# boot/'s rooms, the lowest first.  Inside ``boot`` (one layer above) a module
# imports from its own room and the rooms before it, never from one after it.
# The top level is split: ``config``, ``model`` and ``plan`` are what every
# writer is handed (a BootConfig, the states, the chosen entries), so they sit
# between the rooms that read the system and those that write to $BOOT; the
# rest of the top level (``sync``, ``status``, ``bless``, ``espmount``,
# ``bootstatus``) drives them all.  The longest matching prefix wins.
BOOT_ROOMS: tuple[tuple[str, ...], ...] = (
    ("boot.statetree",),  # a root's and a state's files, read inside them
    ("boot.topology",),  # the block devices under the root -> root= words
    ("boot.discovery",),  # which ESP and XBOOTLDR, EFI variables
    ("boot.writing",),  # how a file reaches $BOOT
    ("boot.config", "boot.model", "boot.plan"),  # what every writer is handed
    ("boot.secureboot",),  # signing, unified images, TPM warnings
    ("boot.entries",),  # the entry writers: bls, cbm
    ("boot",),  # the orchestration
)


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported project module
    line: int


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for top in ("moss", "boot", "initrd"):
        for path in sorted((PROJECT / top).rglob("*.py")):
            modules[module_name(path)] = path
    return modules


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield Import(name, alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                # ``from pkg import sub`` imports the submodule, not the package.
                full = f"{base}.{alias.name}"
                if full in modules:
                    yield Import(name, full, node.lineno)
                elif base in modules:
                    yield Import(name, base, node.lineno)


def layer_of(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in LAYERS:
            return prefix
    raise AssertionError(f"{module} is in no layer: add its package to LAYERS")


def all_imports() -> list[Import]:
    modules = project_modules()
    return [imp for name, path in modules.items() for imp in imports_of(name, path, modules)]


def test_every_module_has_a_layer() -> None:
    for module in project_modules():
        layer_of(module)


def test_no_import_reaches_up_or_sideways() -> None:
    wrong = []
    for imp in all_imports():
        source, target = layer_of(imp.source), layer_of(imp.target)
        if source == target or (target == "moss" and imp.source != "moss"):
            continue
        if LAYERS[target] >= LAYERS[source]:
            wrong.append(f"{imp.source}:{imp.line} imports {imp.target} "
                         f"(rank {LAYERS[source]} -> {LAYERS[target]})")
    assert not wrong, "\n".join(wrong)


def room_of(module: str) -> int:
    """The index in BOOT_ROOMS of a module of ``boot``: its longest matching prefix."""
    best, best_len = -1, -1
    for index, room in enumerate(BOOT_ROOMS):
        for prefix in room:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = index, len(prefix)
    assert best >= 0, f"{module} is in no room: add it to BOOT_ROOMS"
    return best


def test_boot_rooms_import_only_rooms_below() -> None:
    wrong = [
        f"{imp.source}:{imp.line} imports {imp.target} "
        f"(room {room_of(imp.source)} -> {room_of(imp.target)})"
        for imp in all_imports()
        if layer_of(imp.source) == "boot" and layer_of(imp.target) == "boot"
        and room_of(imp.target) > room_of(imp.source)
    ]
    assert not wrong, "\n".join(wrong)


def test_every_boot_module_lies_in_a_room_of_its_own() -> None:
    """A module left at the top level by mistake would land in the orchestration
    room and could import anything: only the modules named here may live there."""
    top = {m for m in project_modules()
           if layer_of(m) == "boot" and room_of(m) == len(BOOT_ROOMS) - 1}
    assert top == {"boot", "boot.bless", "boot.bootstatus", "boot.espmount"}


@pytest.mark.parametrize("package", sorted(ONLY))
def test_restricted_packages_import_only_what_they_may(package: str) -> None:
    allowed = ONLY[package]
    wrong = [
        f"{imp.source}:{imp.line} imports {imp.target}"
        for imp in all_imports()
        if layer_of(imp.source) == package
        and not any(imp.target == a or imp.target.startswith(a + ".") for a in allowed)
    ]
    assert not wrong, "\n".join(wrong)


def test_no_import_cycles() -> None:
    graph: dict[str, set[str]] = {m: set() for m in project_modules()}
    for imp in all_imports():
        # A package's __init__ re-exporting its submodules is not a cycle with them.
        if imp.source.startswith(imp.target + "."):
            continue
        graph[imp.source].add(imp.target)
    cycles = strongly_connected(graph)
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(sorted(c)) for c in cycles)


def strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's algorithm, iteratively (the graph is small, the habit is not)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[set[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            for nxt in edges:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter
                    counter += 1
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, iter(sorted(graph[nxt]))))
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = set()
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.add(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(component)
    return found


# A newcomer reads a module in one sitting and a function on one screen.
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 50


def test_no_module_or_function_too_long_to_read() -> None:
    too_long = []
    for name, path in project_modules().items():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{name}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    too_long.append(f"{name}:{node.lineno} {node.name}: {length} lines")
    assert not too_long, "split along its steps:\n" + "\n".join(too_long)
