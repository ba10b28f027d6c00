"""Decoding and encoding the records of the Meta, Layout, Index and Attributes payloads.

Every length a record states is checked against the bytes that remain before it is
used, so a hostile length gives a StoneError naming the record, not an IndexError.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from moss.stone.dependency import Dependency
from moss.stone.enums import DependencyKind, FileKind, MetaType
from moss.stone.errors import StoneError
from moss.stone.targets import directories_problem, shown, target_problem

_META = struct.Struct(">IHBB")
#: What a symlink can hold: the kernel refuses PATH_MAX (4096) bytes and more.
MAX_LINK_BYTES = 4095
_LAYOUT = struct.Struct(">IIIIHHB11x")
_INDEX = struct.Struct(">QQ16s")
_ATTR = struct.Struct(">QQ")
_INTS: dict[int, str] = {
    MetaType.INT8: ">b",
    MetaType.UINT8: ">B",
    MetaType.INT16: ">h",
    MetaType.UINT16: ">H",
    MetaType.INT32: ">i",
    MetaType.UINT32: ">I",
    MetaType.INT64: ">q",
    MetaType.UINT64: ">Q",
}


@dataclass(frozen=True, slots=True)
class MetaRecord:
    """One tagged value; unknown tags and types are kept (value as raw bytes)."""

    tag: int
    type: int
    value: int | str | Dependency | bytes


@dataclass(frozen=True, slots=True)
class LayoutEntry:
    """One path of a package's /usr tree.

    ``source`` is the 16-byte XXH3-128 for a regular file, the link target for a
    symlink and ``""`` otherwise; ``target`` is relative to /usr.
    """

    uid: int
    gid: int
    mode: int
    tag: int
    file_kind: FileKind
    source: bytes | str
    target: str

    @property
    def digest(self) -> int:
        if self.file_kind is not FileKind.REGULAR or not isinstance(self.source, bytes):
            raise ValueError(f"{self.target}: only a regular file has a digest")
        return int.from_bytes(self.source, "big")


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """The file with XXH3-128 ``digest`` is ``content[start:end]``."""

    start: int
    end: int
    digest: int

    @property
    def size(self) -> int:
        return self.end - self.start


def _string(raw: bytes | bytearray, where: str) -> str:
    if raw.endswith(b"\0"):
        raw = raw[:-1]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise StoneError(f"{where}: string is not UTF-8") from None


# --- meta -------------------------------------------------------------------------


def _decode_meta_value(
    kind: int, raw: bytes | bytearray, where: str
) -> int | str | Dependency | bytes:
    if kind in _INTS:
        fmt = _INTS[kind]
        if len(raw) != struct.calcsize(fmt):
            raise StoneError(f"{where}: integer of type {kind} with length {len(raw)}")
        value: int = struct.unpack(fmt, raw)[0]
        return value
    if kind == MetaType.STRING:
        return _string(raw, where)
    if kind in (MetaType.DEPENDENCY, MetaType.PROVIDER):
        if not raw:
            raise StoneError(f"{where}: empty dependency")
        try:
            dep_kind = DependencyKind(raw[0])
        except ValueError:
            raise StoneError(f"{where}: unknown dependency kind {raw[0]}") from None
        return Dependency(dep_kind, _string(raw[1:], where))
    return bytes(raw)


def decode_meta(data: bytes | bytearray, count: int, where: str) -> list[MetaRecord]:
    records: list[MetaRecord] = []
    pos = 0
    for i in range(count):
        here = f"{where}, record {i}"
        if pos + _META.size > len(data):
            raise StoneError(f"{here}: record header past the end of the payload")
        length, tag, kind, _pad = _META.unpack_from(data, pos)
        pos += _META.size
        if pos + length > len(data):
            raise StoneError(f"{here}: length {length} runs past the end of the payload")
        raw = data[pos : pos + length]
        pos += length
        records.append(MetaRecord(tag, kind, _decode_meta_value(kind, raw, here)))
    if pos != len(data):
        raise StoneError(f"{where}: {len(data) - pos} bytes after the last of {count} records")
    return records


def encode_meta_record(record: MetaRecord) -> bytes:
    value = record.value
    if record.type in _INTS:
        if not isinstance(value, int):
            raise ValueError(f"meta tag {record.tag}: integer type with value {value!r}")
        raw = struct.pack(_INTS[record.type], value)
    elif record.type == MetaType.STRING:
        if not isinstance(value, str):
            raise ValueError(f"meta tag {record.tag}: string type with value {value!r}")
        raw = value.encode() + b"\0"
    elif record.type in (MetaType.DEPENDENCY, MetaType.PROVIDER):
        if not isinstance(value, Dependency):
            raise ValueError(f"meta tag {record.tag}: dependency type with value {value!r}")
        raw = bytes([value.kind]) + value.target.encode() + b"\0"
    elif isinstance(value, bytes):
        raw = value
    else:
        raise ValueError(f"meta tag {record.tag}: unknown type {record.type} needs bytes")
    return _META.pack(len(raw), record.tag, record.type, 0) + raw


# --- layout -----------------------------------------------------------------------


def validate_target(target: str, where: str) -> None:
    """A layout target must stay inside /usr and name one path one way (:mod:`.targets`)."""
    problem = target_problem(target)
    if problem:
        raise StoneError(f"{where}: empty target" if not target else
                         f"{where}: target {shown(target)} {problem}")


def decode_layout(data: bytes | bytearray, count: int, where: str) -> list[LayoutEntry]:
    entries: list[LayoutEntry] = []
    pos = 0
    for i in range(count):
        here = f"{where}, record {i}"
        if pos + _LAYOUT.size > len(data):
            raise StoneError(f"{here}: record header past the end of the payload")
        uid, gid, mode, tag, src_len, tgt_len, kind = _LAYOUT.unpack_from(data, pos)
        pos += _LAYOUT.size
        if pos + src_len + tgt_len > len(data):
            raise StoneError(f"{here}: source/target lengths run past the end of the payload")
        raw_source = data[pos : pos + src_len]
        raw_target = data[pos + src_len : pos + src_len + tgt_len]
        pos += src_len + tgt_len
        try:
            file_kind = FileKind(kind)
        except ValueError:
            raise StoneError(f"{here}: unknown file type {kind}") from None
        target = _string(raw_target, here)
        if target.endswith("/") and len(target) > 1:
            target = target[:-1]  # a directory written with its slash
        validate_target(target, here)
        here = f"{where}, record {i} ({shown(target)})"
        source: bytes | str
        if file_kind is FileKind.REGULAR:
            if len(raw_source) != 16:
                raise StoneError(f"{here}: regular file digest of {len(raw_source)} bytes")
            source = bytes(raw_source)
        elif file_kind is FileKind.SYMLINK:
            source = _string(raw_source, here)
            if not source or "\0" in source:
                raise StoneError(f"{here}: bad symlink target {shown(source)}")
            if src_len > MAX_LINK_BYTES:
                raise StoneError(f"{here}: symlink target of {src_len} bytes, over the "
                                 f"limit of {MAX_LINK_BYTES} (the kernel's PATH_MAX)")
        else:
            source = ""
        entries.append(LayoutEntry(uid, gid, mode, tag, file_kind, source, target))
    if pos != len(data):
        raise StoneError(f"{where}: {len(data) - pos} bytes after the last of {count} records")
    problem = directories_problem(entry.target for entry in entries)
    if problem:
        raise StoneError(f"{where}: the layout {problem}")
    return entries


def encode_layout_entry(entry: LayoutEntry) -> bytes:
    source = entry.source if isinstance(entry.source, bytes) else entry.source.encode()
    target = entry.target.encode()
    header = _LAYOUT.pack(
        entry.uid, entry.gid, entry.mode, entry.tag, len(source), len(target), entry.file_kind
    )
    return header + source + target


# --- index ------------------------------------------------------------------------


def decode_index(data: bytes | bytearray, count: int, where: str) -> list[IndexEntry]:
    if count * _INDEX.size != len(data):
        raise StoneError(
            f"{where}: {count} records need {count * _INDEX.size} bytes, payload has {len(data)}"
        )
    entries = []
    for i in range(count):
        start, end, digest = _INDEX.unpack_from(data, i * _INDEX.size)
        if end < start:
            raise StoneError(f"{where}, record {i}: end {end} before start {start}")
        entries.append(IndexEntry(start, end, int.from_bytes(digest, "big")))
    return entries


def encode_index_entry(entry: IndexEntry) -> bytes:
    return _INDEX.pack(entry.start, entry.end, entry.digest.to_bytes(16, "big"))


# --- attributes -------------------------------------------------------------------


def decode_attributes(data: bytes | bytearray, count: int, where: str) -> list[tuple[bytes, bytes]]:
    out = []
    pos = 0
    for i in range(count):
        here = f"{where}, record {i}"
        if pos + _ATTR.size > len(data):
            raise StoneError(f"{here}: record header past the end of the payload")
        key_len, value_len = _ATTR.unpack_from(data, pos)
        pos += _ATTR.size
        if pos + key_len + value_len > len(data):
            raise StoneError(f"{here}: key/value lengths run past the end of the payload")
        out.append((bytes(data[pos : pos + key_len]),
                    bytes(data[pos + key_len : pos + key_len + value_len])))
        pos += key_len + value_len
    if pos != len(data):
        raise StoneError(f"{where}: {len(data) - pos} bytes after the last of {count} records")
    return out


def encode_attribute(key: bytes, value: bytes) -> bytes:
    return _ATTR.pack(len(key), len(value)) + key + value
