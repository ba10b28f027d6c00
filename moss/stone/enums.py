"""The numbered values of the .stone v1 format (see reference/stone-v1.md)."""

from __future__ import annotations

from enum import IntEnum


class FileType(IntEnum):
    BINARY = 1
    DELTA = 2
    REPOSITORY = 3
    BUILD_MANIFEST = 4


class PayloadKind(IntEnum):
    META = 1
    CONTENT = 2
    LAYOUT = 3
    INDEX = 4
    ATTRIBUTES = 5
    DUMB = 6


class Compression(IntEnum):
    NONE = 1
    ZSTD = 2


class FileKind(IntEnum):
    REGULAR = 1
    SYMLINK = 2
    DIRECTORY = 3
    CHAR_DEVICE = 4
    BLOCK_DEVICE = 5
    FIFO = 6
    SOCKET = 7


class DependencyKind(IntEnum):
    PACKAGE_NAME = 0
    SONAME = 1
    PKGCONFIG = 2
    INTERPRETER = 3
    CMAKE = 4
    PYTHON = 5
    BINARY = 6
    SYSBINARY = 7
    PKGCONFIG32 = 8


class MetaTag(IntEnum):
    NAME = 1
    ARCHITECTURE = 2
    VERSION = 3
    SUMMARY = 4
    DESCRIPTION = 5
    HOMEPAGE = 6
    SOURCE_ID = 7
    DEPENDS = 8
    PROVIDES = 9
    CONFLICTS = 10
    RELEASE = 11
    LICENSE = 12
    BUILD_RELEASE = 13
    PACKAGE_URI = 14
    PACKAGE_HASH = 15
    PACKAGE_SIZE = 16
    BUILD_DEPENDS = 17
    SOURCE_URI = 18
    SOURCE_PATH = 19
    SOURCE_REF = 20


class MetaType(IntEnum):
    """How a meta record's value is encoded."""

    INT8 = 1
    UINT8 = 2
    INT16 = 3
    UINT16 = 4
    INT32 = 5
    UINT32 = 6
    INT64 = 7
    UINT64 = 8
    STRING = 9
    DEPENDENCY = 10
    PROVIDER = 11
