"""``moss boot sync``, ``moss boot status`` and ``moss boot bless``."""

from __future__ import annotations

import argparse
from pathlib import Path

from moss.cli.output import print_json, progress_for
from moss.core.errors import MossError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("boot", help="boot entries for states",
                       description="Every recent state gets a boot menu entry; choosing an "
                       "older one at boot rolls the system back to it.",
                       epilog="example: moss boot status")
    actions = p.add_subparsers(dest="boot_command", metavar="ACTION")
    actions.required = True
    q = actions.add_parser(
        "sync", help="write the boot entries of the active and recent states",
        description="Write the boot entries of the active and recent states into $BOOT "
        "and remove those of states that are gone. Transactions do this themselves; run "
        "it when one said its boot entries were not updated, once the cause is fixed.",
        epilog="example: moss boot sync")
    _where(q)
    q.add_argument("--json", action="store_true", help="machine-readable report")
    q.set_defaults(handler=_sync)
    q = actions.add_parser(
        "status", help="$BOOT, its entries, and the booted/pending state",
        description="Show where $BOOT and the ESP are, the boot entries written there, "
        "the state that was booted and the one that boots next; nothing is changed.",
        epilog="example: moss boot status --json")
    _where(q)
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_status)
    q = actions.add_parser(
        "bless", help="mark this boot good: remove its entry's boot counter",
        description="A pending state's entry is tried three times, then the boot loader "
        "falls back. systemd-bless-boot marks a good boot on systemd systems; elsewhere, "
        "run this once the system is up and working, or a good update is rolled back "
        "after its last try.",
        epilog="example: moss boot bless")
    _where(q)
    q.set_defaults(handler=_bless)


def _where(p: argparse.ArgumentParser) -> None:
    p.add_argument("--esp", type=Path, metavar="DIR", help="the EFI system partition's mount")
    p.add_argument("--boot", type=Path, metavar="DIR", help="the XBOOTLDR partition's mount")


def _sync(args: argparse.Namespace) -> int:
    from moss.core.root import Root
    from moss.states.bootsync import sync_boot
    from moss.states.mutating import mutating

    root = Root(args.directory)
    with mutating(root, progress=progress_for(args.quiet)) as dbs:
        report = sync_boot(root, dbs, esp=args.esp, boot_dir=args.boot,
                           progress=progress_for(args.quiet))
    if args.json:
        print_json(report.to_json())
    else:
        what = (f"{len(report.copied)} files copied, {len(report.written)} written, "
                f"{len(report.removed)} removed" if report.changed else "nothing changed")
        print(f"Boot entries in {report.boot_dir}: {len(report.entries)} ({what}); "
              f"default: {report.default}")
    return 0


def _bless(args: argparse.Namespace) -> int:
    from moss.core.root import Root
    from moss.states.afterboot import booted_state
    from moss.states.bootsync import bless_boot
    from moss.states.mutating import mutating

    root = Root(args.directory)
    with mutating(root, progress=progress_for(args.quiet)):
        blessed = bless_boot(root, booted_state(root), esp=args.esp, boot_dir=args.boot)
    print(f"Blessed {', '.join(blessed)}" if blessed else "Nothing to bless: the booted "
          "entry has no boot counter")
    return 0


def _status(args: argparse.Namespace) -> int:
    from moss.core.root import Root
    from moss.db.databases import databases
    from moss.states.afterboot import booted_state
    from moss.states.bootsync import boot_status

    root = Root(args.directory)
    if not root.db.is_dir():
        raise MossError(f"nothing is installed in {root.path}: no states, no boot entries")
    with databases(root) as dbs:
        status = boot_status(root, dbs, booted_state(root), esp=args.esp, boot_dir=args.boot)
    if args.json:
        print_json(status.to_json())
        return 0
    print(f"$BOOT:    {status.boot_dir} ({status.backend})")
    print(f"active:   {status.active}")
    print(f"booted:   {status.booted if status.booted is not None else 'unknown'}")
    print(f"pending:  {status.pending if status.pending is not None else 'none'}")
    print(f"default:  {status.default}")
    print(f"root:     {status.root_args or status.root_problem or 'not worked out'}")
    sb = {True: "on", False: "off", None: "unknown"}[status.secure_boot]
    print(f"secure boot: {sb}")
    for path, said in status.signatures.items():
        print(f"  {said:<16} {path}")
    for line in status.tpm:
        print(f"tpm2:     {line}")
    for entry in status.entries:
        mark = "*" if entry.default else " "
        print(f" {mark} {entry.file:<44} state {entry.state}  {entry.title}")
    return 0
