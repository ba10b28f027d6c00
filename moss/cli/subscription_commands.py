"""``moss subscription list|add|remove|refresh``: choose what reaches a state.

``list --json`` prints one object per subscription::

    {"name": str, "description": str, "active": bool, "default": bool,
     "source": str (the YAML file, or "built in"), "keep": [glob], "drop": [glob],
     "packages": [name], "toggle": {"action": "add"|"remove",
     "saves_files": int, "saves_bytes": int, "packages": [name]}}

``toggle`` is what ``moss subscription <action> NAME`` would do to the active
state's tree, measured on it: positive numbers are saved, negative ones cost.
``toggle.packages`` are the subpackages it would remove (their files counted)
or bring from the repositories (not counted: their files are not here yet).

Each handler imports what it runs, so building the parser stays cheap (issue 18).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from moss.cli.output import cancelled, confirm, print_json, print_table, progress_for

if TYPE_CHECKING:
    from moss.subscriptions.config import Choices


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "subscription", help="choose which packages and paths reach a state",
        description="Subscriptions keep a system slim without splitting packages: each "
        "keeps or drops paths (docs, locales, kernel modules the hardware does not need) "
        "and may add packages. Every change builds a new state, so it can be rolled back; "
        "turning a subscription back on needs no download while the packages are cached.",
        epilog="example: moss subscription list")
    subs = p.add_subparsers(dest="subscription_command", metavar="ACTION")
    subs.required = True

    q = subs.add_parser(
        "list", help="what exists, what is on, what each would save",
        description="List every subscription the active state defines, whether it is on, "
        "and the space switching it would save or cost.",
        epilog="example: moss subscription list")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list)

    for name, helptext, handler, what in (
        ("add", "turn subscriptions on (a new state)", _add, "on: the paths and packages "
         "they keep come back"),
        ("remove", "turn subscriptions off (a new state)", _remove, "off: the paths they "
         "keep leave the tree"),
    ):
        q = subs.add_parser(
            name, help=helptext,
            description=f"Turn subscriptions {what}, in a new state made live like a "
            "transaction; `moss state activate` brings the previous one back.",
            epilog=f"example: moss subscription {name} docs")
        q.add_argument("names", nargs="+", metavar="NAME")
        if name == "add":
            q.add_argument("--modalias-file", type=_absolute, metavar="FILE",
                           help="for 'hardware': choose modules for the devices in FILE "
                           "(another machine's list) instead of this machine's, and keep "
                           "doing so on later transactions")
        _common(q)
        q.set_defaults(handler=handler)

    q = subs.add_parser("refresh", help="rebuild the state for the current hardware "
                        "and subscription definitions",
                        description="Build a new state for this machine's hardware and "
                        "the current subscription definitions, after a new device or "
                        "changed definitions. It asks first, showing the space it saves "
                        "or adds; --dry-run only shows that.",
                        epilog="example: moss subscription refresh --dry-run")
    _common(q)
    q.set_defaults(handler=_refresh)


def _absolute(text: str) -> str:
    return str(Path(text).absolute())


def _common(q: argparse.ArgumentParser) -> None:
    q.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    q.add_argument("--no-wait", action="store_true",
                   help="fail at once if another moss holds the lock")
    q.add_argument("--skip-boot", action="store_true", help="do not update boot entries")


def _size(n: int) -> str:
    """Bytes as everywhere else in moss (:func:`moss.core.progress.size_text`)."""
    from moss.core.progress import size_text

    return size_text(n)


def _list(args: argparse.Namespace) -> int:
    from moss.actions import subscribe

    infos = subscribe.list_subscriptions(args.directory)
    if args.json:
        print_json([i.to_json() for i in infos])
        return 0
    rows = []
    for info in infos:
        verb = "removing" if info.active else "adding"
        saves = "saves" if info.toggle_bytes >= 0 else "costs"
        effect = (f"{verb} {saves} {_size(abs(info.toggle_bytes))} "
                  f"({abs(info.toggle_files)} files)")
        if info.toggle_packages:
            effect += (f", {'removes' if info.active else 'brings'} "
                       f"{len(info.toggle_packages)} packages")
        rows.append((info.definition.name, "on" if info.active else "off", effect,
                     info.definition.description))
    print_table(("NAME", "", "EFFECT", "DESCRIPTION"), rows)
    return 0


def _add(args: argparse.Namespace) -> int:
    from moss.actions import subscribe
    from moss.subscriptions.modalias import read_modalias_file

    choices = subscribe.new_choices(args.directory, add=args.names)
    if args.modalias_file:
        choices.modalias_file = Path(args.modalias_file)
        read_modalias_file(choices.modalias_file)  # refuse a bad list before building
    return _change(args, choices, "subscribe " + ", ".join(args.names))


def _remove(args: argparse.Namespace) -> int:
    from moss.actions import subscribe

    choices = subscribe.new_choices(args.directory, remove=args.names)
    return _change(args, choices, "unsubscribe " + ", ".join(args.names))


def _refresh(args: argparse.Namespace) -> int:
    from moss.subscriptions.config import load_choices

    return _change(args, load_choices(args.directory), "refresh subscriptions")


def _change(args: argparse.Namespace, choices: Choices, summary: str) -> int:
    from moss.actions import subscribe, transaction

    files, size = subscribe.preview(args.directory, choices)
    effect = (f"{'saves' if size >= 0 else 'adds'} {_size(abs(size))} "
              f"({abs(files)} files) against the active state")
    if args.dry_run:
        print(f"Would build a new state ({summary}): {effect}.")
        return 0
    if not confirm(f"Build a new state ({summary}), which {effect}?", args.yes_all):
        return cancelled()
    options = transaction.Options(progress=progress_for(args.quiet),
                                  wait_for_lock=not args.no_wait, skip_boot=args.skip_boot,
                                  cache=args.cache)
    outcome = subscribe.change(args.directory, choices, summary, options)
    if outcome.deferred:
        print(f"State {outcome.state_id} is staged: reboot to apply it.")
    else:
        print(f"State {outcome.state_id} is now active ({summary}).")
    return 0
