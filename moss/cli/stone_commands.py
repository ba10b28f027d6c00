"""Commands that work on .stone files: inspect, extract, pack, index.

``moss inspect --json FILE`` prints one object (a list of them for several files):

- ``path``, ``file_type`` (``binary``, ``delta``, ``repository``, ``build_manifest``),
  ``version`` (1);
- ``payloads``: ``[{kind, compression, stored_size, plain_size, records, checksum}]``
  with ``checksum`` the XXH3-64 as 16 hex digits;
- for a repository index, ``packages``: a list of meta objects; otherwise ``meta``
  (when there is a Meta payload) and ``layout``;
- a meta object: ``id``, ``name``, ``version``, ``release``, ``build_release``,
  ``architecture``, ``summary``, ``description``, ``homepage``, ``source_id``,
  ``licenses``, ``depends``/``provides``/``conflicts`` (strings such as
  ``soname(libc.so.6(x86_64))``; a bare name is a package), ``extra`` (records of
  other tags: ``{tag, type, value}``) and, in indexes, ``uri``, ``hash``, ``size``;
- a layout object: ``target`` (absolute, under ``/usr``), ``kind`` (``regular``,
  ``symlink``, ``directory``, ...), ``mode`` (the full ``st_mode`` in octal, e.g.
  ``"100644"``), ``uid``, ``gid``, and ``digest`` (XXH3-128, 32 hex digits) for a
  regular file or ``link`` for a symlink.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register(sub: Subparsers) -> None:
    _register_inspect(sub)
    _register_extract(sub)
    _register_pack(sub)
    _register_index(sub)


def _register_inspect(sub: Subparsers) -> None:
    p = sub.add_parser(
        "inspect", help="show what a .stone file holds",
        description="Show the header, payloads, meta and layout of .stone files "
        "(packages and repository indexes); nothing is written.",
        epilog="example: moss inspect hello-1-1-1-x86_64.stone --json",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help=".stone files to read")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--check", action="store_true",
                   help="check every payload's checksum and every file's digest; "
                   "status 1 if a file fails")
    p.add_argument("-q", "--quiet", action="store_true", dest="check_quiet",
                   help="with --check (required, as in real moss): print nothing, "
                   "the exit status says it")
    p.set_defaults(handler=_later("cmd_inspect"))


def _register_extract(sub: Subparsers) -> None:
    p = sub.add_parser(
        "extract", help="unpack packages' /usr trees into a directory",
        description="Unpack each package's /usr into DIR/<id>/usr (real moss's form, DIR: "
        "-o or here), or all into one tree with -C DIR, checking every digest; a bad "
        "package leaves DIR as it was.",
        epilog="example: moss extract -C /tmp/look hello-1-1-1-x86_64.stone",
    )
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="packages to unpack")
    where = p.add_mutually_exclusive_group()
    where.add_argument("-C", dest="dest", type=Path, metavar="DIR",
                       help="unpack every package into one merged tree, DIR/usr (this moss's)")
    where.add_argument(
        "-o", "--output-dir", type=Path, metavar="DIR",
        help="each package into its own tree, DIR/<id>/usr, where <id> is "
        "name-version-release-build.arch (default: the current directory, as real moss); "
        "an old tree of that id is replaced",
    )
    p.set_defaults(handler=_later("cmd_extract"))


def _register_pack(sub: Subparsers) -> None:
    p = sub.add_parser(
        "pack", help="build a package from a directory taken as /usr",
        description="Build a .stone package from DIR, taken as /usr: DIR/bin/hello "
        "becomes /usr/bin/hello.  Modes, symlinks and empty directories are kept and "
        "identical files stored once.  Providers and dependencies are derived from the "
        "files as boulder does (programs, ELF sonames and DT_NEEDED, .pc files, #! lines) "
        "and added to those given.",
        epilog="example: moss pack ./destdir/usr --name hello --version 1.0 --release 1 "
        "--depends 'libc,soname(libz.so.1(x86_64))'",
    )
    p.add_argument("tree", type=Path, metavar="DIR", help="the tree that becomes /usr")
    p.add_argument(
        "-o", "--output", type=Path, metavar="OUT.stone",
        help="where to write (default: NAME-VERSION-RELEASE-BUILD-ARCH.stone here)",
    )
    p.add_argument("--name", required=True, help="the package's name")
    p.add_argument("--version", required=True, help="its upstream version, e.g. 1.2.3")
    p.add_argument("--release", type=int, required=True, help="the distribution's release number")
    p.add_argument("--build-release", type=int, default=1, help="the build number (default 1)")
    p.add_argument("--architecture", default="x86_64", help="target architecture (default x86_64)")
    p.add_argument("--summary", default="", help="one line shown by search and info")
    p.add_argument("--description", default="", help="a longer description")
    p.add_argument("--homepage", default="", help="the project's home page")
    p.add_argument(
        "--license", action="append", default=[], dest="licenses", metavar="SPDX",
        help="a license (repeat, or separate with commas)",
    )
    for kind, verb in (("depends", "depends on"), ("provides", "provides"),
                       ("conflicts", "conflicts with")):
        p.add_argument(
            f"--{kind}", action="append", default=[], metavar="X",
            help=f"what it {verb}: a name or kind(target); repeat, or separate with commas",
        )
    p.add_argument("--no-auto-deps", action="store_true",
                   help="declare only the --provides and --depends given, nothing derived "
                   "from the files (binary(), sysbinary(), soname(), pkgconfig(), #! lines)")
    p.add_argument("--level", type=int, default=3, help="zstd level (default 3)")
    p.set_defaults(handler=_later("cmd_pack"))


def _register_index(sub: Subparsers) -> None:
    p = sub.add_parser(
        "index", aliases=["ix"], help="write DIR/stone.index for the packages below DIR",
        description="Write DIR/stone.index, the repository index of every .stone package "
        "below DIR, so DIR can be served as a repository. To require a signature "
        "(`moss repo add --key`), sign it afterwards: minisign -S -m DIR/stone.index.",
        epilog="example: moss index ./repo",
    )
    p.add_argument("dir", type=Path, metavar="DIR", help="the repository's folder")
    p.add_argument("-o", "--output-dir", type=Path, metavar="DIR",
                   help="write stone.index into this folder instead (package URIs stay "
                   "relative to the repository's folder)")
    p.set_defaults(handler=_later("cmd_index"))


def _later(name: str) -> Callable[[argparse.Namespace], int]:
    """The handler ``name`` of :mod:`moss.cli.stone_run`, imported when it runs: building
    the parser must not load the stone code (issue 18: start-up time)."""

    def handler(args: argparse.Namespace) -> int:
        from moss.cli import stone_run

        status: int = getattr(stone_run, name)(args)
        return status

    return handler
