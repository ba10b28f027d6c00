"""``moss pack`` derives providers and dependencies from the files, as boulder does.

Real binaries of this machine (``/usr/bin/ls``, ``libz.so.1``) are packed with a
``.pc`` file and scripts; ``readelf`` (binutils, when present) is the independent
reading of the same ELF files.  The ELF reader is then fed generated mutants of a
real library: it answers or declines, never raises.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.stonetools.autodeps import derive, required_modules
from moss.stonetools.elfdeps import read_elf

LS = Path("/usr/bin/ls")
LIBZ = Path("/usr/lib/x86_64-linux-gnu/libz.so.1")
pytestmark = pytest.mark.skipif(not LS.is_file() or not LIBZ.exists(),
                                reason="needs /usr/bin/ls and libz.so.1 (Debian x86_64)")


def moss(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, stdin=subprocess.DEVNULL)


def readelf(path: Path, what: str) -> list[str]:
    """``readelf -d``'s NEEDED or SONAME names, in order."""
    shown = subprocess.run(["readelf", "-d", str(path)], capture_output=True, text=True,
                           check=True).stdout
    return [line.split("[", 1)[1].rstrip("]") for line in shown.splitlines()
            if f"({what})" in line]


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    usr = tmp_path / "usr"
    for folder in ("bin", "sbin", "lib/pkgconfig", "share/pkgconfig", "lib32/pkgconfig"):
        (usr / folder).mkdir(parents=True)
    shutil.copy(LS, usr / "bin/ls")
    shutil.copy(LIBZ, usr / "lib/libz.so.1")
    (usr / "lib/libz.so").symlink_to("libz.so.1")
    (usr / "bin/tool").write_text("#!/usr/bin/env -S python3 -u\nprint('hi')\n")
    (usr / "bin/greet").write_text("#!/bin/sh\nexec /usr/bin/ls\n")
    (usr / "sbin/daemon").write_text("#!/usr/sbin/helper --flag\n")
    (usr / "sbin/helper").write_text("#!/opt/odd/interp\n")
    (usr / "lib/pkgconfig/zlib.pc").write_text(
        "prefix=/usr\nName: zlib\nVersion: 1.2.13\nRequires: libffi >= 3.4, glib-2.0\n"
        "Requires.private: ${prefix}/x zlib-ng\n")
    (usr / "share/pkgconfig/greet.pc").write_text("Name: greet\nRequires: zlib\n")
    (usr / "lib32/pkgconfig/zlib.pc").write_text("Name: zlib\nRequires: libffi\n")
    (usr / "share/data.bin").write_bytes(b"\x7fELF not really")
    return usr


def test_pack_declares_what_boulder_derives(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.stone"
    packed = moss("pack", str(tree), "-o", str(out), "--name", "x", "--version", "1",
                  "--release", "1", "--depends", "extra", "--provides", "binary(ls)")
    assert packed.returncode == 0, packed.stderr
    meta = json.loads(moss("inspect", "--json", str(out)).stdout)["meta"]
    # readelf's reading of the same files; Debian 12's, where binutils is absent
    have = shutil.which("readelf") is not None
    needed = readelf(LS, "NEEDED") if have else ["libselinux.so.1", "libc.so.6"]
    libz_needs = readelf(LIBZ, "NEEDED") if have else ["libc.so.6"]
    assert sorted(meta["provides"]) == sorted([
        "binary(ls)", "binary(greet)", "binary(tool)", "sysbinary(daemon)",
        "sysbinary(helper)", "soname(libz.so.1(x86_64))", "pkgconfig(zlib)",
        "pkgconfig(greet)", "pkgconfig32(zlib)"])
    assert meta["provides"].count("binary(ls)") == 1  # given and derived: once
    expected = {"extra", *(f"soname({n}(x86_64))" for n in needed + libz_needs),
                "binary(python3)", "interpreter(/opt/odd/interp)", "binary(sh)",
                "pkgconfig(libffi)", "pkgconfig(glib-2.0)", "pkgconfig(zlib-ng)",
                "pkgconfig32(libffi)"}
    # sysbinary(helper), binary(ls) and pkgconfig(zlib) are the package's own: not needed
    assert sorted(meta["depends"]) == sorted(expected)
    assert meta["depends"][0] == "extra"  # the given ones first


def test_no_auto_deps_declares_only_what_is_given(tree: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.stone"
    packed = moss("pack", str(tree), "-o", str(out), "--name", "x", "--version", "1",
                  "--release", "1", "--depends", "extra", "--no-auto-deps")
    assert packed.returncode == 0, packed.stderr
    meta = json.loads(moss("inspect", "--json", str(out)).stdout)["meta"]
    assert meta["depends"] == ["extra"] and meta["provides"] == []


def test_a_packed_library_is_found_by_its_soname(tree: Path, tmp_path: Path) -> None:
    """What the issue missed: ``search -p`` and ``info`` find your own package."""
    repo = tmp_path / "repo"
    repo.mkdir()
    lib = tmp_path / "zlib-tree"
    (lib / "lib").mkdir(parents=True)
    shutil.copy(LIBZ, lib / "lib/libz.so.1")
    assert moss("pack", str(lib), "-o", str(repo / "zlib.stone"), "--name", "zlib",
                "--version", "1", "--release", "1").returncode == 0
    assert moss("index", str(repo)).returncode == 0
    root = tmp_path / "root"
    assert moss("-D", str(root), "repo", "add", "main",
                (repo / "stone.index").as_uri()).returncode == 0
    moss("-D", str(root), "repo", "update")
    found = moss("-D", str(root), "search", "-p=soname", "libz.so.1(x86_64)")
    assert found.returncode == 0 and "zlib" in found.stdout, found.stdout + found.stderr
    info = moss("-D", str(root), "info", "soname(libz.so.1(x86_64))")
    assert info.returncode == 0 and "zlib" in info.stdout, info.stdout + info.stderr


def test_the_reader_agrees_with_readelf_on_this_machine() -> None:
    if shutil.which("readelf") is None:
        pytest.skip("no readelf")
    for path in (LS, LIBZ, Path(sys.executable).resolve()):
        linking = read_elf(path)
        assert linking is not None and linking.machine == "x86_64"
        assert list(linking.needed) == readelf(path, "NEEDED"), path
        assert ([linking.soname] if linking.soname else []) == readelf(path, "SONAME")


SEED_BYTES = LIBZ.read_bytes() if LIBZ.exists() else b""


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, 12), st.sampled_from(["flip", "cut", "int"]))
def test_a_malformed_elf_never_raises(tmp_path_factory: pytest.TempPathFactory, seed: int,
                                      changes: int, how: str) -> None:
    rng = random.Random(seed)
    data = bytearray(SEED_BYTES)
    for _ in range(changes):
        # the headers, program headers and dynamic section: where the reader looks
        at = rng.randrange(0, min(len(data), 1 << 14)) if rng.random() < 0.8 else \
            rng.randrange(0, len(data))
        if how == "flip":
            data[at] ^= 1 << rng.randrange(8)
        elif how == "int":
            data[at:at + 8] = rng.getrandbits(64).to_bytes(8, "little")
        else:
            del data[at:]
            break
    folder = tmp_path_factory.mktemp("mutant")
    (folder / "lib").mkdir()
    mutant = folder / "lib/libz.so.1"
    mutant.write_bytes(bytes(data))
    linking = read_elf(mutant)
    if linking is not None:
        assert all(isinstance(n, str) and n for n in linking.needed)
    derived = derive(folder)  # the whole rule on it: no exception either
    assert all("(" in str(d) for d in derived.depends)


NAMES = st.from_regex(r"[a-z][a-z0-9_.+-]{0,15}", fullmatch=True)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(NAMES, st.sampled_from(["", ">=", "<", "=", "!="]),
                          st.from_regex(r"[0-9][0-9.]{0,6}", fullmatch=True)),
                min_size=1, max_size=5, unique_by=lambda t: t[0]),
       st.sampled_from([", ", " ", ",", " , "]))
def test_requires_lines_give_their_module_names(modules: list[tuple[str, str, str]],
                                                 separator: str) -> None:
    line = separator.join(f"{name} {op} {version}" if op else name
                          for name, op, version in modules)
    assert required_modules(line) == [name for name, _op, _version in modules]


def test_pack_of_a_tree_of_broken_elf_files_never_shows_a_traceback(tmp_path: Path) -> None:
    """Through the CLI: 60 mutants of a real library in one tree pack cleanly; whatever
    the reader could still make sense of is declared, the rest is packed as data."""
    rng = random.Random(20261206)
    tree = tmp_path / "usr"
    (tree / "lib").mkdir(parents=True)
    for i in range(60):
        data = bytearray(SEED_BYTES)
        for _ in range(rng.randint(1, 6)):
            at = rng.randrange(0, 1 << 14)
            data[at:at + 8] = rng.getrandbits(64).to_bytes(8, "little")
        if i % 4 == 0:
            del data[rng.randrange(16, len(data)):]
        (tree / f"lib/libm{i}.so.1").write_bytes(bytes(data))
    out = tmp_path / "m.stone"
    packed = moss("pack", str(tree), "-o", str(out), "--name", "m", "--version", "1",
                  "--release", "1")
    assert packed.returncode == 0 and packed.stderr == "", packed.stderr
    meta = json.loads(moss("inspect", "--json", str(out)).stdout)["meta"]
    assert all(re.fullmatch(r"soname\([^()]+\([a-z0-9_]+\)\)", d) for d in meta["depends"])
