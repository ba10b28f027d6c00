"""``moss list installed`` and ``moss info``: read-only views of a root.

Each handler imports the code it runs, so building the parser stays cheap (issue 18).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from moss.cli.helptext import about
from moss.cli.output import print_json, print_table, write_padded

if TYPE_CHECKING:
    from moss.actions import query

# Real moss's `search -p` kinds; `library` is its other name for soname.
PROVIDER_KINDS = ["library", "name", "soname", "pkgconfig", "interpreter", "cmake", "python",
                  "binary", "sysbinary", "pkgconfig32"]

# What `moss list ...` and `moss search-file` say in --help (moss.cli.helptext).
ABOUT = {
    "list": about(
        "List packages: those installed in the active state, those the repositories offer, "
        "or the installed ones the repositories offer in another release (what `moss sync` "
        "would change).",
        "moss list installed"),
    "installed": about(
        "List the packages of the active state with their versions; with --explicit only "
        "those asked for by name, not those pulled in as dependencies.",
        "moss list installed --explicit"),
    "available": about(
        "List every package the enabled repositories offer, read from the indexes the last "
        "`moss repo update` fetched; nothing is downloaded.",
        "moss list available"),
    "sync": about(
        "List the installed packages that the repositories offer in another release, with "
        "both versions and whether each goes up or down: what `moss sync` would change, "
        "without changing anything.",
        "moss list sync --upgrade-only"),
    "search-file": about(
        "Print each installed path that holds PATH as `/usr/PATH from PACKAGE`, as real moss "
        "does (any leading part of /usr/ is optional); like real moss, finding nothing is "
        "not a failure (status 0, no output; --json gives []).",
        "moss search-file bin/hello"),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="list packages", **ABOUT["list"])
    which = p.add_subparsers(dest="list_command", metavar="WHAT")
    which.required = True
    q = which.add_parser("installed", aliases=["li"], help="packages of the active state",
                         **ABOUT["installed"])
    q.add_argument("-e", "--explicit", action="store_true",
                   help="only the packages asked for, not those pulled in as dependencies")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_installed)
    q = which.add_parser("available", aliases=["la"], help="packages the repositories offer",
                         **ABOUT["available"])
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_available)
    q = which.add_parser("sync", aliases=["ls", "lu"],
                         help="what `moss sync` would change: every release change",
                         **ABOUT["sync"])
    q.add_argument("--upgrade-only", action="store_true",
                   help="as `sync --upgrade-only`: leave out downgrades")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_sync)

    q = sub.add_parser("search", aliases=["sr"], help="find packages by name or summary",
                       description="Find packages whose name or summary holds KEYWORD; "
                       "with -p, the packages that provide KIND(KEYWORD) exactly.",
                       epilog="example: moss search --installed zlib")
    q.add_argument("keyword")
    q.add_argument("-i", "--installed", action="store_true",
                   help="search among installed packages only")
    q.add_argument("-p", "--provides", choices=PROVIDER_KINDS, metavar="KIND",
                   help="search by provider: -p alone is binary; -p=KIND one of "
                   + ", ".join(PROVIDER_KINDS) + " (library is soname)")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_search)
    q = sub.add_parser("search-file", aliases=["sf"],
                       help="which installed package ships a path",
                       **ABOUT["search-file"])
    q.add_argument("path")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_search_file)

    q = sub.add_parser("info", help="show packages, installed and available",
                       description="Show every package, installed or offered by a "
                       "repository, that is called NAME or provides it (binary(hello), ...).",
                       epilog="example: moss info hello --files")
    q.add_argument("names", nargs="+", metavar="NAME")
    q.add_argument("-f", "--files", action="store_true", help="list the files it ships")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_info)


def _list_installed(args: argparse.Namespace) -> int:
    from moss.actions import query

    packages = query.installed(args.directory)
    if args.explicit:
        packages = [p for p in packages if p.explicit]
    if args.json:
        print_json([p.to_json() for p in packages])
    else:
        print_table(("NAME", "VERSION", "SUMMARY"),
                    [(p.name, f"{p.version}-{p.release}", p.summary) for p in packages])
    return 0


def _print_available(packages: list[query.AvailablePackage], as_json: bool) -> None:
    if as_json:
        print_json([p.to_json() for p in packages])
        return
    from moss.actions import query

    _write_table([query.table_row(p) for p in packages])


def _write_table(rows: list[tuple[str, ...]]) -> None:
    """``list available`` and ``search``: a row's cells after the fifth are not shown."""
    write_padded([("NAME", "VERSION", "REPOSITORY", "", "SUMMARY"), *rows])


def _list_available(args: argparse.Namespace) -> int:
    from moss.actions import query

    if args.json:
        _print_available(query.available(args.directory), True)
    else:
        list_available(args.directory)
    return 0


def list_available(directory: Path) -> None:
    """``list available``: the table SQLite builds, written at once, else row by row."""
    from moss.actions import query

    text = query.available_text(directory)
    if text is None:
        _write_table(query.available_table(directory))
    else:
        sys.stdout.write(text)


def _list_sync(args: argparse.Namespace) -> int:
    from moss.actions import query

    rows = query.pending_changes(args.directory, args.upgrade_only)
    if args.json:
        print_json([{"name": r.old.name, "installed": f"{r.old.version}-{r.old.release}",
                     "available": f"{r.new.version}-{r.new.release}",
                     "repository": r.new.repository,
                     "change": "downgrade" if r.downgrade else "upgrade"} for r in rows])
    else:
        print_table(("NAME", "INSTALLED", "AVAILABLE", "REPOSITORY", "CHANGE"),
                    [(r.old.name, f"{r.old.version}-{r.old.release}",
                      f"{r.new.version}-{r.new.release}", r.new.repository,
                      "downgrade" if r.downgrade else "upgrade") for r in rows])
    return 0


def _search(args: argparse.Namespace) -> int:
    from moss.actions import lookup, query

    if args.provides:
        kind = "soname" if args.provides == "library" else args.provides
        wanted = args.keyword if kind == "name" else f"{kind}({args.keyword})"
        found = [query.AvailablePackage(c.meta.name, c.meta.version, c.meta.release,
                                        c.meta.summary, c.repository or "@installed",
                                        c.installed)
                 for c in lookup.candidates(args.directory, wanted,
                                            installed_only=args.installed)]
    else:
        found = query.search(args.directory, args.keyword)
        if args.installed:
            found = [p for p in found if p.installed]
    _print_available(found, args.json)
    return 0


def _search_file(args: argparse.Namespace) -> int:
    from moss.actions import query

    rows = query.search_file(args.directory, args.path)
    if args.json:
        print_json([{"package": package, "path": path} for package, path in rows])
    else:
        for package, path in rows:
            print(f"{path} from {package}")
    return 0


def _info(args: argparse.Namespace) -> int:
    """Real moss's ``info``: every NAME, every match; one unknown NAME fails the command."""
    from moss.cli.info_output import print_info

    print_info(args.directory, args.names, files=args.files, as_json=args.json)
    return 0
