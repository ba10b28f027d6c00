"""``moss cache prune``: delete cached data no state uses, as real moss's command does.

What is pruned and kept: :mod:`moss.states.cacheprune`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from moss.cli.output import cancelled, confirm, progress_for
from moss.core.progress import size_text

if TYPE_CHECKING:
    from moss.states.cacheprune import CachePlan


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cache", help="manage cached data",
                       description="Cached data: downloaded .stone files (kept so states "
                       "can be repaired and switched offline) and the store's blobs.",
                       epilog="example: moss cache prune")
    actions = p.add_subparsers(dest="cache_command", metavar="ACTION")
    actions.required = True
    q = actions.add_parser(
        "prune", help="delete downloads and blobs no state uses",
        description="Delete the packages no state uses (their downloaded .stone files and "
        "store blobs) and orphaned blobs left by an interrupted install. Packages an "
        "active repository still offers are kept, as real moss keeps them. Shows what "
        "goes and how many bytes, then asks (-y skips).",
        epilog="example: moss cache prune --dry-run")
    q.add_argument("--dry-run", action="store_true", help="show what would go, delete nothing")
    q.add_argument("--no-wait", action="store_true", help="fail if another moss holds the lock")
    q.set_defaults(handler=_prune)


def _show(plan: CachePlan) -> None:
    for label in plan.packages:
        print(f"  remove   {label} (no state uses it)")
    print(f"  delete   {plan.files} file{'s' * (plan.files != 1)}: {len(plan.downloads)} "
          f"downloaded, {len(plan.blobs)} store blobs, {size_text(plan.size)}")
    if plan.kept:
        print(f"  keep     {plan.kept} unused package{'s' * (plan.kept != 1)} an active "
              "repository still offers")


def _prune(args: argparse.Namespace) -> int:
    from moss.states import cacheprune

    def ask(plan: CachePlan) -> bool:
        print("The cache prune will:")
        _show(plan)
        return confirm("Proceed?", args.yes_all)

    plan = cacheprune.prune_cache(args.directory, None if args.dry_run else ask,
                                  dry_run=args.dry_run, wait_for_lock=not args.no_wait,
                                  progress=progress_for(args.quiet))
    if not plan.files and not plan.packages:
        print("No files to remove")
    elif args.dry_run:
        print("Would:")
        _show(plan)
    elif not plan.done:
        return cancelled()
    else:
        print(f"{plan.files} file{'s' * (plan.files != 1)} removed, "
              f"{size_text(plan.size)} freed")
    return 0
