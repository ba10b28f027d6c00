"""``moss list installed`` and ``moss info``: read-only views of a root."""

from __future__ import annotations

import argparse

from moss.actions import query
from moss.cli.output import print_json, print_table


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("list", help="list packages")
    which = p.add_subparsers(dest="list_command", metavar="WHAT")
    which.required = True
    q = which.add_parser("installed", help="packages of the active state")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_installed)
    q = which.add_parser("available", help="packages the repositories offer")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_available)
    q = which.add_parser("sync", help="installed packages with a newer release available")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list_sync)
    for alias, handler in (("li", _list_installed), ("la", _list_available)):
        q = sub.add_parser(alias, help=f"alias of `list {handler.__name__[6:]}`")
        q.add_argument("--json", action="store_true", help="machine-readable output")
        q.set_defaults(handler=handler)

    for name, aliases in (("search", ["sr"]),):
        q = sub.add_parser(name, aliases=aliases, help="find packages by name or summary")
        q.add_argument("keyword")
        q.add_argument("--json", action="store_true", help="machine-readable output")
        q.set_defaults(handler=_search)
    q = sub.add_parser("search-file", help="which installed package ships a path (exit 1: none)")
    q.add_argument("path")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_search_file)

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


def _print_available(packages: list[query.AvailablePackage], as_json: bool) -> None:
    if as_json:
        print_json([p.to_json() for p in packages])
        return
    print_table(("NAME", "VERSION", "REPOSITORY", "", "SUMMARY"),
                [(p.name, f"{p.version}-{p.release}", p.repository,
                  "installed" if p.installed else "", p.summary) for p in packages])


def _list_available(args: argparse.Namespace) -> int:
    _print_available(query.available(args.directory), args.json)
    return 0


def _list_sync(args: argparse.Namespace) -> int:
    rows = query.pending_upgrades(args.directory)
    if args.json:
        print_json([{"name": old.name, "installed": f"{old.version}-{old.release}",
                     "available": f"{new.version}-{new.release}",
                     "repository": new.repository} for old, new in rows])
    else:
        print_table(("NAME", "INSTALLED", "AVAILABLE", "REPOSITORY"),
                    [(old.name, f"{old.version}-{old.release}", f"{new.version}-{new.release}",
                      new.repository) for old, new in rows])
    return 0


def _search(args: argparse.Namespace) -> int:
    _print_available(query.search(args.directory, args.keyword), args.json)
    return 0


def _search_file(args: argparse.Namespace) -> int:
    rows = query.search_file(args.directory, args.path)
    if args.json:
        print_json([{"package": package, "path": path} for package, path in rows])
    else:
        for package, path in rows:
            print(f"{package}: {path}")
    return 0 if rows else 1


def _info(args: argparse.Namespace) -> int:
    row, details, layout = query.package_info(args.directory, args.name)
    if args.json:
        out = {**details, "id": row.id, "explicit": row.explicit}
        if args.files:
            out["files"] = [query.describe_entry(e) for e in layout]
            # Paths of "files" that the active state left out on purpose (subscriptions).
            filtered = query.filtered_paths(args.directory)
            out["filtered"] = [f"/usr/{e.target}" for e in layout if e.target in filtered]
        print_json(out)
        return 0
    for key in ("name", "version", "release", "summary", "description", "homepage"):
        print(f"{key.capitalize():<13}{details[key]}")
    for key in ("licenses", "depends", "provides", "conflicts"):
        values = details[key]
        assert isinstance(values, list)
        print(f"{key.capitalize():<13}{', '.join(values) or '-'}")
    if args.files:
        filtered = query.filtered_paths(args.directory)
        for entry in layout:
            why = filtered.get(entry.target)
            note = f"  [{why} by subscriptions]" if why else ""
            print(query.describe_entry(entry) + note)
    return 0
