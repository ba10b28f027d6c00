"""``moss list installed`` and ``moss info``: read-only views of a root."""

from __future__ import annotations

import argparse

from moss import query
from moss.cli.output import print_json, print_table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="list packages")
    which = p.add_subparsers(dest="list_command", metavar="WHAT")
    which.required = True
    q = which.add_parser("installed", help="packages of the active state")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_installed)
    q = sub.add_parser("li", help="alias of `list installed`")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_installed)

    q = sub.add_parser("info", help="show an installed package")
    q.add_argument("name")
    q.add_argument("--files", action="store_true", help="list the files it ships")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_info)


def _list_installed(args: argparse.Namespace) -> int:
    packages = query.installed(args.directory)
    if args.json:
        print_json([p.to_json() for p in packages])
    else:
        print_table(("NAME", "VERSION", "SUMMARY"),
                    [(p.name, f"{p.version}-{p.release}", p.summary) for p in packages])
    return 0


def _info(args: argparse.Namespace) -> int:
    row, details, layout = query.package_info(args.directory, args.name)
    if args.json:
        out = {**details, "id": row.id, "explicit": row.explicit}
        if args.files:
            out["files"] = [query.describe_entry(e) for e in layout]
        print_json(out)
        return 0
    for key in ("name", "version", "release", "summary", "description", "homepage"):
        print(f"{key.capitalize():<13}{details[key]}")
    for key in ("licenses", "depends", "provides", "conflicts"):
        values = details[key]
        assert isinstance(values, list)
        print(f"{key.capitalize():<13}{', '.join(values) or '-'}")
    if args.files:
        for entry in layout:
            print(query.describe_entry(entry))
    return 0
