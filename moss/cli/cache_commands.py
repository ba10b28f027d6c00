"""``moss cache prune``: delete cached data no state uses, as real moss's command does.

Real moss (``moss/src/cli/cache.rs``) prunes "downloaded stones & unpacked asset
data for packages not in any state"; here that includes the orphaned blobs an
interrupted install leaves, which ``moss state verify`` reports.
"""

from __future__ import annotations

import argparse

from moss.cli.output import progress_for


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("cache", help="manage cached data",
                       description="Cached data: downloaded .stone files (kept so states "
                       "can be repaired and switched offline) and the store's blobs.",
                       epilog="example: moss cache prune")
    actions = p.add_subparsers(dest="cache_command", metavar="ACTION")
    actions.required = True
    q = actions.add_parser(
        "prune", help="delete downloads and blobs no state uses",
        description="Delete downloaded packages and store blobs that no state uses, "
        "including orphaned blobs left by an interrupted install.",
        epilog="example: moss cache prune")
    q.add_argument("--no-wait", action="store_true", help="fail if another moss holds the lock")
    q.set_defaults(handler=_prune)


def _prune(args: argparse.Namespace) -> int:
    from moss.states import operations

    removed = operations.prune_cache(args.directory, wait_for_lock=not args.no_wait,
                                     progress=progress_for(args.quiet))
    if removed:
        print(f"{removed} file{'s' if removed > 1 else ''} removed")
    else:
        print("No files to remove")
    return 0
