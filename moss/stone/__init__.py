"""The .stone v1 package format: reading and writing packages and repository indexes.

This package depends on nothing else in the project, so the format can be reused
and tested on its own. See ``reference/stone-v1.md`` for the byte-level facts.

The names below are loaded on first use (PEP 562), not when the package is: a query
that needs only ``PackageMeta`` must not pay for zstandard, which the reader and the
writer import (issue 18: start-up time).
"""

from __future__ import annotations

import importlib

# ``typing`` costs milliseconds to import; mypy takes any name TYPE_CHECKING as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from moss.stone.dependency import Dependency
    from moss.stone.digest import EMPTY_DIGEST, digest_bytes, digest_hex, xxh3_128
    from moss.stone.enums import (
        Compression,
        DependencyKind,
        FileKind,
        FileType,
        MetaTag,
        MetaType,
        PayloadKind,
    )
    from moss.stone.errors import StoneError
    from moss.stone.meta import PackageMeta
    from moss.stone.payload import PayloadHeader
    from moss.stone.reader import StoneReader, open_stone
    from moss.stone.records import IndexEntry, LayoutEntry, MetaRecord
    from moss.stone.writer import write_repository_index, write_stone

# Each public name and the submodule that defines it.
_WHERE: dict[str, str] = {
    "Dependency": "dependency",
    "EMPTY_DIGEST": "digest", "digest_bytes": "digest", "digest_hex": "digest",
    "xxh3_128": "digest",
    "Compression": "enums", "DependencyKind": "enums", "FileKind": "enums",
    "FileType": "enums", "MetaTag": "enums", "MetaType": "enums", "PayloadKind": "enums",
    "StoneError": "errors",
    "PackageMeta": "meta",
    "PayloadHeader": "payload",
    "StoneReader": "reader", "open_stone": "reader",
    "IndexEntry": "records", "LayoutEntry": "records", "MetaRecord": "records",
    "write_repository_index": "writer", "write_stone": "writer",
}

__all__ = [
    "EMPTY_DIGEST",
    "Compression",
    "Dependency",
    "DependencyKind",
    "FileKind",
    "FileType",
    "IndexEntry",
    "LayoutEntry",
    "MetaRecord",
    "MetaTag",
    "MetaType",
    "PackageMeta",
    "PayloadHeader",
    "PayloadKind",
    "StoneError",
    "StoneReader",
    "digest_bytes",
    "digest_hex",
    "open_stone",
    "write_repository_index",
    "write_stone",
    "xxh3_128",
]


def __getattr__(name: str) -> Any:
    """``moss.stone.X``: import X's submodule now, and keep X for the next lookup."""
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{where}"), name)
    globals()[name] = value
    return value
