"""KDL documents, read with a maintained parser and written the way real moss writes them.

Real moss (AerynOS) keeps its repository and trigger configuration and its
system model in KDL, and writes KDL v2 (``kdl-rs`` 6: ``#true``, bare
identifiers).  Parsing is ``ckdl``'s (a C parser that reads v1 and v2);
this module turns its objects into plain typed dataclasses, so the rest of
moss never touches the library, and writes documents back in v2 with
real moss's 4-space layout.  Errors are a :class:`MossError` naming the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import ckdl

from moss.core import confined
from moss.core.errors import MossError

# Real moss's files need a handful of levels and a few hundred values.
MAX_DEPTH = 32
MAX_NODES = 100_000

Scalar = str | int | float | bool | None

# A string written unquoted (as kdl-rs does for ``description testing``): a
# conservative subset of KDL identifiers, never a keyword or number look-alike.
_BARE = re.compile(r"^[A-Za-z_.+-][A-Za-z0-9_.+-]*$")
_KEYWORDS = {"true", "false", "null", "inf", "-inf", "nan"}


@dataclass
class Node:
    """One KDL node: its name, arguments, properties and children."""

    name: str
    args: list[Scalar] = field(default_factory=list)
    props: dict[str, Scalar] = field(default_factory=dict)
    children: list[Node] = field(default_factory=list)

    def child(self, name: str) -> Node | None:
        """The last child of that name (the later one wins, as in kdl-rs's ``get``)."""
        found = [c for c in self.children if c.name == name]
        return found[-1] if found else None

    def value(self, name: str) -> Scalar:
        """The first argument of the named child, or None when it is absent."""
        node = self.child(name)
        return node.args[0] if node is not None and node.args else None


def _scalar(raw: object) -> Scalar:
    inner = getattr(raw, "value", raw)  # a type-annotated value: (u8)1
    if inner is None or isinstance(inner, str | int | float | bool):
        return inner
    return str(inner)


def _convert(raw: ckdl.Node) -> Node:
    return Node(
        name=str(raw.name),
        args=[_scalar(a) for a in raw.args],
        props={str(k): _scalar(v) for k, v in raw.properties.items()},
        children=[_convert(c) for c in raw.children],
    )


def _check_bounds(nodes: Sequence[ckdl.Node], source: str | Path) -> None:
    """Refuse a document deeper than :data:`MAX_DEPTH` or larger than :data:`MAX_NODES`.

    ckdl (C) parses any depth, but turning its nodes into ours, and every walk
    after that, recurses once per level: without this a few thousand ``{`` were a
    ``RecursionError`` in every command.  Walked with an explicit stack.
    """
    todo = [(node, 1) for node in nodes]
    count = 0
    while todo:
        node, depth = todo.pop()
        count += 1 + len(node.args) + len(node.properties)
        if depth > MAX_DEPTH:
            raise MossError(f"{source}: nested deeper than {MAX_DEPTH} levels; refused")
        if count > MAX_NODES:
            raise MossError(f"{source}: holds more than {MAX_NODES} values; refused")
        todo.extend((child, depth + 1) for child in node.children)


def parse(text: str, source: str | Path = "<kdl>") -> list[Node]:
    """The top-level nodes of a KDL (v1 or v2) document; bad syntax is one clear error,
    and so is a document past the bounds (:func:`_check_bounds`)."""
    try:
        document = ckdl.parse(text, version="any")
    except (ckdl.ParseError, ValueError, OverflowError, MemoryError) as exc:
        raise MossError(f"{source}: not a valid KDL document: {str(exc)[:200]}") from None
    _check_bounds(document.nodes, source)
    return [_convert(n) for n in document.nodes]


def read(path: Path, root: Path | None = None) -> list[Node]:
    return parse(read_text(path, root), path)


def _quote(text: str) -> str:
    escaped = (text.replace("\\", "\\\\").replace('"', '\\"')
               .replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r"))
    return f'"{escaped}"'


def _string(text: str) -> str:
    bare = _BARE.match(text) and text not in _KEYWORDS and not re.match(r"^[+-]?\.?\d", text)
    return text if bare else _quote(text)


def format_value(value: Scalar) -> str:
    if value is None:
        return "#null"
    if isinstance(value, bool):
        return "#true" if value else "#false"
    if isinstance(value, int | float):
        return repr(value)
    return _string(value)


def _emit(node: Node, depth: int, out: list[str]) -> None:
    parts = [_string(node.name)]
    parts += [format_value(a) for a in node.args]
    parts += [f"{_string(k)}={format_value(v)}" for k, v in node.props.items()]
    pad = "    " * depth
    if not node.children:
        out.append(pad + " ".join(parts))
        return
    out.append(pad + " ".join(parts) + " {")
    for child in node.children:
        _emit(child, depth + 1, out)
    out.append(pad + "}")


def dumps(nodes: Sequence[Node]) -> str:
    """A KDL v2 document as real moss's autoformat lays it out (4 spaces, one node a line)."""
    out: list[str] = []
    for node in nodes:
        _emit(node, 0, out)
    return "".join(line + "\n" for line in out)


def leaf(name: str, *args: Scalar) -> Node:
    """A child like ``priority 10``: the shape of every field in real moss's files."""
    return Node(name, list(args))


def parent(name: str, children: Iterable[Node]) -> Node:
    return Node(name, children=list(children))


def _node_data(node: Node) -> object:
    """A node as kdl-rs's serde sees it: one argument is a scalar, several a list,
    properties and children a mapping, nothing at all ``None``."""
    if not node.props and not node.children:
        if not node.args:
            return None
        return node.args[0] if len(node.args) == 1 else list(node.args)
    mapping: dict[str, object] = dict(node.props)
    mapping.update(to_data(node.children))
    return mapping


def to_data(nodes: Sequence[Node]) -> dict[str, object]:
    """A document as the plain data its YAML twin would load to (serde's KDL mapping).

    Real moss reads its configuration with serde, so one Rust type accepts
    ``priority: 10`` in YAML and ``priority 10`` in KDL; this gives the same
    mapping for both, and repeated node names become a list, as in kdl-rs.
    """
    data: dict[str, object] = {}
    repeated: set[str] = set()
    for node in nodes:
        value = _node_data(node)
        if node.name not in data:
            data[node.name] = value
        elif node.name in repeated:
            existing = data[node.name]
            assert isinstance(existing, list)
            existing.append(value)
        else:
            data[node.name] = [data[node.name], value]
            repeated.add(node.name)
    return data


def read_text(path: Path, root: Path | None = None) -> str:
    """A KDL file's text, at most :data:`~moss.core.confined.MAX_CONFIG_BYTES`, UTF-8;
    read inside ``root`` when it is one of that root's files (:mod:`moss.core.confined`).
    An unreadable one is a MossError naming it."""
    return confined.read_config(root, path) if root is not None else confined.read_file(path)
