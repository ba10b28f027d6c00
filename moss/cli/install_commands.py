"""``moss install``, ``remove`` and ``sync``: transactions that make a new state.

Each handler imports the transaction code when it runs, not when the parser is built
(issue 18: start-up time).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from moss.cli.output import cancelled, confirm, progress_for

if TYPE_CHECKING:
    from moss.actions import transaction
    from moss.planning.selection import Change

ROLLBACK_HINT = " The previous state stays on disk: `moss state activate` brings it back."


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "install", aliases=["it"], help="install packages by name or from .stone files",
        description="Install packages into a new state and make it live. Each argument is a "
        "local .stone file, or a package name or provider (e.g. soname(libz.so.1(x86_64)), "
        "binary(hello)) resolved with its dependencies from the repositories." + ROLLBACK_HINT,
        epilog="example: moss install hello",
    )
    p.add_argument("packages", nargs="+", metavar="NAME|FILE.stone")
    _common(p)
    _to(p)
    p.set_defaults(handler=_install)

    p = sub.add_parser(
        "remove", aliases=["rm"], help="remove packages",
        description="Remove packages by name into a new state, with the packages that need "
        "them and the dependencies nothing else needs." + ROLLBACK_HINT,
        epilog="example: moss remove hello",
    )
    p.add_argument("packages", nargs="+", metavar="NAME")
    _common(p)
    p.set_defaults(handler=_remove)

    p = sub.add_parser(
        "sync", aliases=["up"], help="bring the system to what the repositories offer",
        description="Update every installed package to what the repositories offer, highest "
        "priority first (a repository may also roll a package back)." + ROLLBACK_HINT,
        epilog="example: moss sync --update",
    )
    p.add_argument("--upgrade-only", action="store_true", help="never downgrade a package")
    p.add_argument("--import", dest="import_model", type=Path, metavar="FILE",
                   help="sync to exactly the packages and repositories of this "
                   "system-model.kdl (as `moss state export` writes it)")
    p.add_argument("-u", "--update", action="store_true",
                   help="update the repositories' indexes first (`moss repo update`)")
    _common(p)
    _to(p)
    p.set_defaults(handler=_sync)
    register_fetch(sub)


def register_fetch(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "fetch", aliases=["fe"], help="download packages' .stone files into a folder",
        description="Download the best offer of each NAME (a package name or provider) "
        "from the repositories into DIR; nothing is installed. Use it to carry packages "
        "to a machine without network, or to look inside one with `moss inspect`.",
        epilog="example: moss fetch hello -o ./packages")
    p.add_argument("packages", nargs="+", metavar="NAME")
    p.add_argument("-o", "--output-dir", type=Path, default=Path("."), metavar="DIR",
                   help="where to write the .stone files (default: the current directory)")
    p.set_defaults(handler=_fetch)


def _fetch(args: argparse.Namespace) -> int:
    from moss.actions import fetch

    written = fetch.fetch(args.directory, args.packages, args.output_dir, args.cache,
                         progress_for(args.quiet))
    for path in written:
        print(f"Fetched {path}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="show the plan, change nothing")
    p.add_argument("--no-wait", action="store_true",
                   help="fail at once if another moss holds the lock")
    p.add_argument("--skip-boot", action="store_true", help="do not update boot entries")
    when = p.add_mutually_exclusive_group()
    when.add_argument("--defer", dest="defer", action="store_const", const=True,
                      help="stage the new state for the next boot instead of applying it "
                      "(the default for kernel updates of the running system)")
    when.add_argument("--now", dest="defer", action="store_const", const=False,
                      help="apply the new state at once, even a kernel update")


def _to(p: argparse.ArgumentParser) -> None:
    p.add_argument("--to", type=Path, metavar="DIR", dest="to",
                   help="build a whole root in DIR instead (emptied first, as real moss "
                   "does): DIR/usr from this root's store, no state recorded, no boot "
                   "entries; boulder builds with it")


def _is_file(arg: str) -> bool:
    return arg.endswith(".stone") or Path(arg).is_file()


def _install(args: argparse.Namespace) -> int:
    from moss.actions import transaction

    files = [Path(a) for a in args.packages if _is_file(a)]
    names = [a for a in args.packages if not _is_file(a)]
    return _run(args, transaction.Request(install=files, names=names))


def _remove(args: argparse.Namespace) -> int:
    from moss.actions import transaction

    return _run(args, transaction.Request(remove=args.packages))


def _sync(args: argparse.Namespace) -> int:
    """``sync``; with ``--import`` the model's repositories are the ones refreshed
    (``-u``) and, once the state is made, the root's configured ones."""
    from moss.actions import sysmodel, transaction

    model = sysmodel.model_for_sync(args.directory, args.import_model)
    if args.update and model is None:
        from moss.cli import repo_commands

        status = repo_commands.cmd_update(argparse.Namespace(**{
            **vars(args), "name": None, "allow_older": False}))
        if status:
            return status
    if model is not None:
        for repo_id, count in sysmodel.fetch_model_indexes(
                args.directory, model, progress_for(args.quiet), wait=not args.no_wait,
                refresh=args.update):
            print(f"{repo_id}: {count} packages")
    status = _run(args, transaction.Request(sync=model is None,
                                            upgrade_only=args.upgrade_only, model=model))
    if status == 0 and model is not None and args.import_model and not args.dry_run \
            and args.to is None:
        for line in sysmodel.adopt_repositories(args.directory, model, wait=not args.no_wait):
            print(line)
    return status


def print_change(change: Change) -> None:
    if change.carried:
        print(f"  pending  {change.carried}")
    for label in change.added:
        print(f"  install  {label}" + " (dependency)" * (label in change.dependencies))
    for old, new in change.replaced:
        print(f"  replace  {old} -> {new}" + " (downgrade)" * (new in change.downgrades))
    for label in change.removed:
        print(f"  remove   {label}")
    for label in change.marked:
        print(f"  keep     {label} (asked for by name: it stays when what brought it goes)")
    from moss.core.progress import size_text

    if change.download_size:
        print(f"  download {size_text(change.download_size)}")
    if change.disk_size or change.disk_unknown:
        later = (f" and the files of {change.disk_unknown} package"
                 f"{'s' if change.disk_unknown > 1 else ''} once downloaded"
                 if change.disk_unknown else "")
        print(f"  disk     +{size_text(change.disk_size)}{later}")


def _run(args: argparse.Namespace, request: transaction.Request) -> int:
    if getattr(args, "to", None) is not None:
        return _run_ephemeral(args, request)
    from moss.actions import transaction

    def ask(change: Change) -> bool:
        print("The transaction will:")
        print_change(change)
        return confirm("Proceed?", args.yes_all)

    options = transaction.Options(
        progress=progress_for(args.quiet),
        dry_run=args.dry_run,
        wait_for_lock=not args.no_wait,
        defer=args.defer,
        skip_boot=args.skip_boot,
        cache=args.cache,
        confirm=None if args.dry_run else ask,
    )
    outcome = transaction.run(args.directory, request, options)
    if outcome.change.is_empty():
        print("Nothing to do: the system is already in that state.")
    elif args.dry_run:
        print("Would:")
        print_change(outcome.change)
    elif outcome.cancelled:
        return cancelled()
    elif outcome.deferred:
        print(f"State {outcome.state_id} is staged: reboot to apply it "
              f"(the running system stays on state {outcome.previous}).")
    else:
        was = f" (previous state: {outcome.previous})" if outcome.previous is not None else ""
        print(f"State {outcome.state_id} is now active{was}.")
    return 0


def _run_ephemeral(args: argparse.Namespace, request: transaction.Request) -> int:
    """``--to DIR``: a root built in DIR from what the request resolves to, no state."""
    from moss.actions import ephemeral, transaction

    def ask(change: Change) -> bool:
        print(f"{args.to} will be emptied and hold:")
        print_change(change)
        return confirm("Proceed?", args.yes_all)

    options = transaction.Options(
        progress=progress_for(args.quiet), dry_run=args.dry_run,
        wait_for_lock=not args.no_wait, cache=args.cache,
        confirm=None if args.dry_run else ask)
    outcome = ephemeral.run(args.directory, request, args.to, options)
    if outcome.change.is_empty():
        print("Nothing to do: no packages to put in the ephemeral root.")
    elif args.dry_run:
        print(f"Would build {args.to} with:")
        print_change(outcome.change)
    elif not outcome.written:
        return cancelled()
    else:
        print(f"Built {args.to}: {len(outcome.change.added)} packages, {outcome.entries} "
              "entries (an ephemeral root: no state recorded).")
    return 0
