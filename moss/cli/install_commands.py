"""``moss install`` and ``moss remove``: transactions that make a new state."""

from __future__ import annotations

import argparse
from pathlib import Path

from moss import transaction
from moss.cli.output import confirm, progress_for
from moss.selection import Change


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    for name, aliases in (("install", ["it"]), ("remove", ["rm"])):
        is_install = name == "install"
        p = sub.add_parser(
            name,
            aliases=aliases,
            help="install packages" if is_install else "remove packages",
            description=(
                "Install .stone files into a new state and make it live."
                if is_install else
                "Remove packages by name into a new state and make it live."
            ) + " The previous state stays on disk: `moss state activate` brings it back.",
        )
        if is_install:
            p.add_argument("packages", nargs="+", type=Path, metavar="FILE.stone")
        else:
            p.add_argument("packages", nargs="+", metavar="NAME")
        p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
        p.add_argument("--no-wait", action="store_true",
                       help="fail at once if another moss holds the lock")
        p.set_defaults(handler=_run, is_install=is_install)


def print_change(change: Change) -> None:
    for label in change.added:
        print(f"  install  {label}")
    for old, new in change.replaced:
        print(f"  replace  {old} -> {new}")
    for label in change.removed:
        print(f"  remove   {label}")


def _run(args: argparse.Namespace) -> int:
    request = (transaction.Request(install=args.packages) if args.is_install
               else transaction.Request(remove=args.packages))

    def ask(change: Change) -> bool:
        print("The transaction will:")
        print_change(change)
        return confirm("Proceed?", args.yes_all)

    options = transaction.Options(
        progress=progress_for(args.quiet),
        dry_run=args.dry_run,
        wait_for_lock=not args.no_wait,
        confirm=None if args.dry_run else ask,
    )
    outcome = transaction.run(args.directory, request, options)
    if outcome.change.is_empty():
        print("Nothing to do: the packages are already in that state.")
    elif args.dry_run:
        print("Would:")
        print_change(outcome.change)
    elif outcome.cancelled:
        print("Cancelled; nothing was changed.")
    else:
        was = f" (previous state: {outcome.previous})" if outcome.previous is not None else ""
        print(f"State {outcome.state_id} is now active{was}.")
    return 0
