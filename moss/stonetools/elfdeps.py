"""What an ELF file says about linking: its machine, ``DT_SONAME``, ``DT_NEEDED`` and
``PT_INTERP``, read with ``struct`` alone.

The file comes from a tree someone asked to pack and may be anything: truncated,
hostile, or a file that merely starts with ``\\x7fELF``.  Every offset and count is
checked against the file's size before it is read, every count and string is
bounded, and whatever does not add up makes :func:`read_elf` return None (the file
is then packed as data, with no dependencies derived).  Never an exception.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MAGIC = b"\x7fELF"
ET_EXEC, ET_DYN = 2, 3
PT_LOAD, PT_DYNAMIC, PT_INTERP = 1, 2, 3
DT_NULL, DT_NEEDED, DT_STRTAB, DT_STRSZ, DT_SONAME = 0, 1, 5, 10, 14
#: e_machine -> the architecture name in ``soname(libz.so.1(x86_64))``, as boulder writes it.
MACHINES = {62: "x86_64", 3: "x86", 183: "aarch64", 243: "riscv64"}
MAX_HEADERS = 4096  # program headers; real files have about a dozen
MAX_DYNAMIC = 65536  # dynamic entries
MAX_STRING = 4096  # a soname or an interpreter path


@dataclass(frozen=True)
class ElfLinking:
    machine: str
    soname: str | None
    needed: tuple[str, ...]
    interpreter: str | None


@dataclass(frozen=True)
class _Layout:
    """Field formats of one ELF class and byte order."""

    order: str
    wide: bool

    def unpack(self, fmt: str, data: bytes, at: int = 0) -> tuple[int, ...]:
        return struct.unpack_from(self.order + fmt, data, at)


class _Bad(Exception):
    """The file is not the ELF it claims to be."""


def read_elf(path: Path) -> ElfLinking | None:
    """The linking facts of an ELF executable or shared object; None for anything else."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            return _parse(_Reader(f, size))
    except (OSError, _Bad, struct.error, UnicodeDecodeError):
        return None


class _Reader:
    """Reads that never leave the file."""

    def __init__(self, f: BinaryIO, size: int) -> None:
        self.f = f
        self.size = size

    def read(self, offset: int, length: int) -> bytes:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise _Bad("out of the file")
        self.f.seek(offset)
        data = self.f.read(length)
        if len(data) != length:
            raise _Bad("short read")
        return data

    def string(self, table: int, table_size: int, index: int) -> str:
        """The name at ``index`` of a string table (``table``: its offset in the file)."""
        if index >= table_size:
            raise _Bad("string out of its table")
        start = table + index
        return _string(self.read(start, min(MAX_STRING, table_size - index,
                                            self.size - start)), 0)


def _parse(r: _Reader) -> ElfLinking | None:
    ident = r.read(0, 16)
    if ident[:4] != MAGIC or ident[4] not in (1, 2) or ident[5] not in (1, 2):
        return None
    lay = _Layout("<" if ident[5] == 1 else ">", ident[4] == 2)
    header = r.read(0, 64 if lay.wide else 52)
    e_type, e_machine = lay.unpack("HH", header, 16)
    if e_type not in (ET_EXEC, ET_DYN) or e_machine not in MACHINES:
        return None
    if lay.wide:
        phoff, = lay.unpack("Q", header, 32)
        phentsize, phnum = lay.unpack("HH", header, 54)
    else:
        phoff, = lay.unpack("I", header, 28)
        phentsize, phnum = lay.unpack("HH", header, 42)
    if phnum > MAX_HEADERS or phentsize < (56 if lay.wide else 32):
        raise _Bad("program headers")
    segments = [_segment(lay, r.read(phoff + i * phentsize, phentsize)) for i in range(phnum)]
    interpreter = None
    for kind, offset, _vaddr, filesz in segments:
        if kind == PT_INTERP:
            interpreter = _string(r.read(offset, min(filesz, MAX_STRING)), 0)
    soname, needed = _dynamic(lay, r, segments)
    return ElfLinking(MACHINES[e_machine], soname, needed, interpreter)


def _segment(lay: _Layout, data: bytes) -> tuple[int, int, int, int]:
    """(p_type, p_offset, p_vaddr, p_filesz)."""
    if lay.wide:
        kind, _flags, offset, vaddr, _paddr, filesz = lay.unpack("IIQQQQ", data)
    else:
        kind, offset, vaddr, _paddr, filesz = lay.unpack("IIIII", data)
    return kind, offset, vaddr, filesz


def _dynamic(lay: _Layout, r: _Reader, segments: list[tuple[int, int, int, int]]
             ) -> tuple[str | None, tuple[str, ...]]:
    dynamic = [s for s in segments if s[0] == PT_DYNAMIC]
    if not dynamic:
        return None, ()
    _kind, offset, _vaddr, filesz = dynamic[0]
    entry = 16 if lay.wide else 8
    count = min(filesz // entry, MAX_DYNAMIC)
    data = r.read(offset, count * entry)
    tags: list[tuple[int, int]] = []
    for i in range(count):
        tag, value = lay.unpack("qQ" if lay.wide else "iI", data, i * entry)
        if tag == DT_NULL:
            break
        tags.append((tag, value))
    strtab = [v for t, v in tags if t == DT_STRTAB]
    strsz = [v for t, v in tags if t == DT_STRSZ]
    if not strtab or not strsz:
        return None, ()
    table = _file_offset(strtab[0], segments)
    soname = [r.string(table, strsz[0], v) for t, v in tags if t == DT_SONAME]
    needed = tuple(dict.fromkeys(r.string(table, strsz[0], v) for t, v in tags
                                 if t == DT_NEEDED))
    return (soname[0] if soname else None), needed


def _file_offset(address: int, segments: list[tuple[int, int, int, int]]) -> int:
    """Where the loaded address ``address`` lies in the file (through a PT_LOAD)."""
    for kind, offset, vaddr, filesz in segments:
        if kind == PT_LOAD and vaddr <= address < vaddr + filesz:
            return address - vaddr + offset
    raise _Bad("string table outside every loaded segment")


def _string(data: bytes, at: int) -> str:
    """A NUL-terminated name, printable, with nothing that would break ``kind(name(arch))``."""
    if at >= len(data):
        raise _Bad("string out of its table")
    end = data.find(b"\0", at, at + MAX_STRING)
    if end < 0:
        raise _Bad("unterminated string")
    text = data[at:end].decode("utf-8")
    if not text or not text.isprintable() or any(c in text for c in " ()"):
        raise _Bad("not a name")
    return text
