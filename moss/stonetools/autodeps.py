"""The providers and dependencies ``moss pack`` derives from what it packs, as boulder does.

Boulder (AerynOS's build tool) analyses each file of a package and declares:

- ``binary(NAME)`` for each program in ``/usr/bin``, ``sysbinary(NAME)`` in ``/usr/sbin``;
- for an ELF file, ``soname(SONAME(ARCH))`` from its ``DT_SONAME`` and a dependency
  ``soname(NEEDED(ARCH))`` for each ``DT_NEEDED`` (:mod:`moss.stonetools.elfdeps`);
- ``pkgconfig(NAME)`` for ``lib/pkgconfig/NAME.pc`` and ``share/pkgconfig/NAME.pc``
  (``pkgconfig32`` under ``lib32``), and a dependency for each module its
  ``Requires`` and ``Requires.private`` name.

moss adds the interpreter of a script's ``#!`` line: a program in ``/bin``,
``/usr/bin`` (or named through ``/usr/bin/env``) becomes ``binary(NAME)``, one in an
``sbin`` ``sysbinary(NAME)``, so a script resolves against the package that ships
its interpreter; any other path becomes ``interpreter(PATH)``.  ``PT_INTERP`` (the
dynamic loader) is left out: the C library that ships it is already a ``soname``
dependency of the same program.  A dependency the package itself provides is
dropped.  Files are read only as far as needed (a few bytes, a bounded ``.pc``).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from moss.stone import Dependency
from moss.stone.enums import DependencyKind as Kind
from moss.stonetools.elfdeps import MAGIC, read_elf

MAX_PC_BYTES = 64 << 10
MAX_SHEBANG = 256
PKGCONFIG_DIRS = {"lib/pkgconfig": Kind.PKGCONFIG, "lib64/pkgconfig": Kind.PKGCONFIG,
                  "share/pkgconfig": Kind.PKGCONFIG, "lib32/pkgconfig": Kind.PKGCONFIG32}
_OPERATORS = {"<", ">", "=", "<=", ">=", "!=", "=="}
_MODULE = re.compile(r"^[A-Za-z0-9_.+@-]+$")


@dataclass
class Derived:
    provides: list[Dependency] = field(default_factory=list)
    depends: list[Dependency] = field(default_factory=list)

    def add(self, into: list[Dependency], kind: Kind, target: str) -> None:
        dep = Dependency(kind, target)
        if dep not in into:
            into.append(dep)


def derive(tree: Path) -> Derived:
    """What the files under ``tree`` (taken as ``/usr``) provide and need."""
    found = Derived()
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        for name in sorted(filenames):
            path = Path(dirpath) / name
            _derive_file(path, path.relative_to(tree).as_posix(), found)
    provided = set(found.provides)
    found.depends = [d for d in found.depends if d not in provided]
    return found


def _derive_file(path: Path, rel: str, found: Derived) -> None:
    folder, _, name = rel.rpartition("/")
    if folder == "bin":
        found.add(found.provides, Kind.BINARY, name)
    elif folder == "sbin":
        found.add(found.provides, Kind.SYSBINARY, name)
    try:
        st = path.lstat()
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        return
    if folder in PKGCONFIG_DIRS and name.endswith(".pc") and len(name) > 3:
        _pkgconfig(path, name[:-3], PKGCONFIG_DIRS[folder], found)
        return
    try:
        with open(path, "rb") as f:
            head = f.read(MAX_SHEBANG)
    except OSError:
        return
    if head.startswith(MAGIC):
        _elf(path, found)
    elif head.startswith(b"#!"):
        _shebang(head, found)


def _elf(path: Path, found: Derived) -> None:
    linking = read_elf(path)
    if linking is None:
        return
    if linking.soname:
        found.add(found.provides, Kind.SONAME, f"{linking.soname}({linking.machine})")
    for needed in linking.needed:
        found.add(found.depends, Kind.SONAME, f"{needed}({linking.machine})")


def _shebang(head: bytes, found: Derived) -> None:
    line = head[2:].split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if not line or not line[0].startswith("/"):
        return
    program = line[0]
    folder, _, name = program.rpartition("/")
    if name == "env":
        words = [w for w in line[1:] if not w.startswith("-") and "=" not in w]
        if words and "/" not in words[0] and _MODULE.match(words[0]):
            found.add(found.depends, Kind.BINARY, words[0])
        return
    if not name or not _MODULE.match(name):
        return
    if folder in ("/bin", "/usr/bin"):
        found.add(found.depends, Kind.BINARY, name)
    elif folder in ("/sbin", "/usr/sbin"):
        found.add(found.depends, Kind.SYSBINARY, name)
    elif program.isprintable() and "(" not in program and ")" not in program:
        found.add(found.depends, Kind.INTERPRETER, program)


def _pkgconfig(path: Path, module: str, kind: Kind, found: Derived) -> None:
    if not _MODULE.match(module):
        return
    found.add(found.provides, kind, module)
    try:
        with open(path, "rb") as f:
            text = f.read(MAX_PC_BYTES).decode("utf-8", "replace")
    except OSError:
        return
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon and key.strip() in ("Requires", "Requires.private"):
            for required in required_modules(value):
                found.add(found.depends, kind, required)


def required_modules(value: str) -> list[str]:
    """The module names of a ``Requires:`` value: ``glib-2.0 >= 2.50, zlib`` -> both names."""
    words = value.replace(",", " ").split()
    names: list[str] = []
    skip = False
    for word in words:
        if skip:
            skip = False
        elif word in _OPERATORS:
            skip = True  # the version after it
        elif _MODULE.match(word) and word not in names:
            names.append(word)
    return names
