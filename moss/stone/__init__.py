"""The .stone v1 package format: reading and writing packages and repository indexes.

This package depends on nothing else in the project, so the format can be reused
and tested on its own. See ``reference/stone-v1.md`` for the byte-level facts.
"""

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
