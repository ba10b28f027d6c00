"""``moss state ...``: list, active, activate, query, prune, remove, verify, rebuild.

Each handler imports the code it runs: building the parser must stay cheap, since
every command builds all of it (issue 18: start-up time).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from moss.cli.helptext import about
from moss.cli.output import cancelled, confirm, print_json, print_table, progress_for
from moss.core.errors import MossError

# What `moss state ACTION --help` says besides its options (moss.cli.helptext).
ABOUT = {
    "list": about(
        "List every state: its id, when it was made, its packages, which one is active, and "
        "how each last became active (a transaction, a rollback, a choice in the boot menu "
        "or a boot fallback). Use it to find the id to activate.",
        "moss state list"),
    "active": about(
        "Print the id of the active state, the one /usr is now; scripts read it before and "
        "after a transaction (--json for an object).",
        "moss state active"),
    "activate": about(
        "Make another state live again, offline: its tree becomes /usr in one step, then "
        "its boot entries and system triggers are updated. It asks first, showing the "
        "packages that change; the state left behind stays on disk and can be activated "
        "back the same way.",
        "moss state activate 3"),
    "prune": about(
        "Remove old states, keeping KEEP counting the active one (the newest others stay; "
        "states newer than the active one stay unless --include-newer), with the store "
        "blobs and downloads only they used. It asks first, listing the states that go "
        "and the space freed; --dry-run only shows that.",
        "moss state prune --keep 5 --dry-run"),
    "remove": about(
        "Remove the given states (ids, or ranges such as 3-5) and the store blobs and "
        "downloads only they used, asking first. The active state cannot be removed; "
        "activate another one first. As in real moss, an id with no state is passed over.",
        "moss state remove 3-5"),
    "verify": about(
        "Re-hash every blob of the store and check every state's tree against the packages "
        "it holds: missing, changed or foreign files are reported, one a line, and the exit "
        "status is 1 while any remain. --repair restores damaged files from the cached "
        "packages. Run it after a crash, a full disk or a bad disk.",
        "moss state verify --repair"),
    "query": about(
        "Show one state: when and how it was made and the packages it holds, with their "
        "versions. Use it to see what an older state would bring back before activating it.",
        "moss state query 3"),
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("state", help="list, activate and prune states",
                       description="Every transaction makes a numbered state; old states "
                       "stay on disk and can be activated again, offline.",
                       epilog="example: moss state list")
    states = p.add_subparsers(dest="state_command", metavar="ACTION")
    states.required = True

    q = states.add_parser("list", help="list states", **ABOUT["list"])
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_list)

    q = states.add_parser("active", help="print the active state's id", **ABOUT["active"])
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_active)

    q = states.add_parser("activate", help="make an earlier state live again",
                          **ABOUT["activate"])
    q.add_argument("id", type=int)
    q.add_argument("--dry-run", action="store_true", help="say what would happen, change nothing")
    q.add_argument("--no-wait", action="store_true", help="fail if another moss holds the lock")
    q.add_argument("--skip-boot", action="store_true", help="do not update boot entries")
    q.add_argument("--skip-triggers", action="store_true", help="run no system triggers")
    q.add_argument("-y", action="store_true", dest="yes_all", default=argparse.SUPPRESS)
    q.set_defaults(handler=_activate)

    q = states.add_parser("prune", help="remove old states and what only they used",
                          **ABOUT["prune"])
    q.add_argument("-k", "--keep", type=int, default=10,
                   help="states to keep, counting the active one (default 10); states "
                   "newer than the active one stay unless --include-newer")
    q.add_argument("--include-newer", action="store_true",
                   help="states newer than the active one may be pruned too")
    q.add_argument("--dry-run", action="store_true", help="show what would go")
    q.add_argument("--skip-boot", action="store_true", help="do not update boot entries")
    q.set_defaults(handler=_prune)

    q = states.add_parser("remove", help="remove the given states", **ABOUT["remove"])
    q.add_argument("ids", nargs="+", type=state_ids, metavar="ID|FIRST-LAST")
    q.add_argument("--dry-run", action="store_true", help="say what would go, change nothing")
    q.add_argument("--skip-boot", action="store_true", help="do not update boot entries")
    q.set_defaults(handler=_remove)

    _register_checks(states)
    _register_query(states)


def _register_checks(states: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """The actions that compare, check or rebuild rather than change states."""
    q = states.add_parser("diff", help="packages added, removed and changed between two states",
                          description="What going from state OLD to state NEW adds, removes "
                          "and changes (versions), by package name. Use it before "
                          "`moss state activate NEW` to see what it will bring.",
                          epilog="example: moss state diff 3 4")
    q.add_argument("old", type=int, metavar="OLD")
    q.add_argument("new", type=int, metavar="NEW")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_diff)

    q = states.add_parser("verify", help="re-hash the store and check every state's tree",
                          **ABOUT["verify"])
    q.add_argument("--repair", action="store_true",
                   help="restore damaged files from cached packages")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_verify)

    q = states.add_parser(
        "rebuild", help="rebuild damaged databases from the states on disk",
        description="Rebuild .moss/db from what the disk holds: each state tree (its "
        ".stateID), the cached .stone files (meta and layouts) and the store's blobs. "
        "The old databases are kept in .moss/db.damaged-<time>/; no tree is changed. "
        "A state whose tree holds files of a package missing from the cache is "
        "reported as not fully recovered and kept as it is.",
        epilog="example: moss state rebuild")
    q.set_defaults(handler=_rebuild)
    _register_export(states)


def _register_query(states: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = states.add_parser("query", help="show a state and its packages", **ABOUT["query"])
    q.add_argument("id", type=int)
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(handler=_query)


def _list(args: argparse.Namespace) -> int:
    from moss.cli.state_output import print_states

    print_states(args.directory, args.json)
    return 0


def _active(args: argparse.Namespace) -> int:
    from moss.states import listing

    active = listing.active_state(args.directory)
    if args.json:
        print_json({"active": active})
    elif active is None:
        print("no active state")
    else:
        print(active)
    return 0


def _diff(args: argparse.Namespace) -> int:
    from moss.states import diff

    changes = diff.state_diff(args.directory, args.old, args.new)
    if args.json:
        print_json(changes.to_json())
        return 0
    lines = changes.lines()
    print(f"From state {args.old} to state {args.new}:" if lines
          else f"States {args.old} and {args.new} hold the same packages.")
    for line in lines:
        print(line)
    return 0


def _activate(args: argparse.Namespace) -> int:
    from moss.states import diff, operations

    states = operations.list_states(args.directory)
    if args.id not in {s.id for s in states}:
        raise MossError(f"no state {args.id}; `moss state list` shows the states")
    active = operations.active_state(args.directory)
    if active == args.id:
        print(f"State {args.id} is already active.")
        return 0
    changes = diff.activation_diff(args.directory, args.id).lines()
    print(f"Activating state {args.id} (the active state is {active}) will:")
    for line in changes or ["  change no package"]:
        print(line)
    for pending in (s.id for s in states if s.pending):  # a plan says what happens to it
        print(f"  pending  state {pending} is applied now instead of at the next boot"
              if pending == args.id else
              f"  pending  state {pending} is no longer applied at the next boot; it stays "
              f"on disk (`moss state activate {pending}` applies it)")
    question = f"Activate state {args.id} (the active state is {active})?"
    if args.dry_run:
        print(f"Would activate state {args.id} (the active state is {active}).")
        return 0
    if not confirm(question, args.yes_all):
        return cancelled()
    previous = operations.activate_state(args.directory, args.id, wait_for_lock=not args.no_wait,
                                    skip_boot=args.skip_boot, progress=progress_for(args.quiet),
                                    skip_triggers=args.skip_triggers)
    if previous == args.id:
        print(f"State {args.id} is already active.")
    else:
        print(f"State {args.id} is now active (previous state: {previous}).")
    return 0


def _show_doomed(state_ids: list[int], freed: int, root: Path) -> None:
    """The states about to go, as ``state list`` shows them, and the space freed."""
    from moss.core.progress import size_text
    from moss.states import listing

    infos = {s.id: s for s in listing.list_states(root)}
    if not state_ids:
        print("No state to remove; unused cached files and orphaned blobs will be deleted.")
        return
    print("These states will be removed:")
    rows = [(i, time.strftime("%Y-%m-%d %H:%M", time.localtime(infos[i].created)),
             infos[i].packages, infos[i].summary) for i in state_ids if i in infos]
    print_table(("ID", "CREATED", "PKGS", "SUMMARY"), rows)
    print(f"This frees about {size_text(freed)}.")


def _prune(args: argparse.Namespace) -> int:
    from moss.states import diff, operations

    doomed, freed = diff.prune_preview(args.directory, args.keep, args.include_newer)
    _show_doomed(doomed, freed, args.directory)
    if args.dry_run:
        print("Would remove states: " + (", ".join(map(str, doomed)) or "none"))
        return 0
    if not confirm(f"Keep {args.keep} states, counting the active one?", args.yes_all):
        return cancelled()
    removed = operations.prune_states(args.directory, args.keep, skip_boot=args.skip_boot,
                                      progress=progress_for(args.quiet),
                                      include_newer=args.include_newer)
    print("Removed states: " + (", ".join(map(str, removed)) or "none"))
    return 0


def state_ids(text: str) -> list[int]:
    """``3`` or ``3-5`` (both ends included), as real moss's ``state remove``."""
    first, dash, last = text.partition("-")
    try:
        ids = list(range(int(first), int(last) + 1)) if dash else [int(text)]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a state id or FIRST-LAST") from None
    if not ids:
        raise argparse.ArgumentTypeError(f"{text!r}: the range must go up (FIRST <= LAST)")
    return ids


def _query(args: argparse.Namespace) -> int:
    from moss.actions import lookup
    from moss.states import listing

    found = [s for s in listing.list_states(args.directory) if s.id == args.id]
    if not found:
        raise MossError(f"no state {args.id}; `moss state list` shows the states")
    picked = lookup.state_selections(args.directory, args.id)
    if args.json:
        print_json({**found[0].to_json(), "packages": [
            {"name": s.meta.name, "version": s.meta.version, "release": s.meta.release,
             "explicit": s.explicit} for s in picked]})
        return 0
    state = found[0]
    print(f"State #{state.id} - {state.summary}")
    print(f"Created: {time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime(state.created))}")
    print(f"Packages: {len(picked)}\n")
    print_table(("NAME", "VERSION", "EXPLICIT"),
                [(s.meta.name, f"{s.meta.version}-{s.meta.release}",
                  "yes" if s.explicit else "") for s in picked])
    return 0


def _remove(args: argparse.Namespace) -> int:
    from moss.states import diff, operations

    wanted = list(dict.fromkeys(i for group in args.ids for i in group))
    args.ids = diff.existing(args.directory, wanted)
    if missing := [str(i) for i in wanted if i not in args.ids]:  # real moss: silence
        print(f"moss: note: no state {', '.join(missing)}; skipped "
              "(`moss state list` shows the states)", file=sys.stderr)
    if not args.ids:
        print("Removed states: none")
        return 0
    freed = diff.remove_preview(args.directory, args.ids)
    _show_doomed(args.ids, freed, args.directory)
    if args.dry_run:
        print("Would remove states: " + ", ".join(map(str, args.ids)))
        return 0
    if not confirm(f"Remove states {', '.join(map(str, args.ids))}?", args.yes_all):
        return cancelled()
    operations.remove_states(args.directory, args.ids, skip_boot=args.skip_boot,
                        progress=progress_for(args.quiet))
    print("Removed states: " + ", ".join(map(str, args.ids)))
    return 0


def _verify(args: argparse.Namespace) -> int:
    from moss.cli.verify_output import verify_command

    return verify_command(args)


def _rebuild(args: argparse.Namespace) -> int:
    from moss.states import rebuild

    if not confirm("Rebuild the databases from the states on disk?", args.yes_all):
        print("Cancelled; nothing was changed.")
        return 0
    report = rebuild.rebuild(args.directory, progress=progress_for(args.quiet))
    for line in report.settled:
        print(f"moss: rebuild: {line}", file=sys.stderr)
    for problem in report.unreadable_cache:
        print(f"moss: warning: skipped cached package: {problem}", file=sys.stderr)
    for state_id, files in sorted(report.incomplete.items()):
        print(f"moss: warning: state {state_id} could not be fully recovered: {len(files)} "
              f"files in its tree belong to no cached package (e.g. {files[0]}); its tree is "
              "kept untouched", file=sys.stderr)
    print(f"Rebuilt the databases: {len(report.states)} states "
          f"({', '.join(map(str, report.states))}), {report.packages} packages; "
          f"the old databases are in {report.kept}.")
    return 0


def _register_export(states: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    q = states.add_parser(
        "export", help="export a state as a system-model.kdl file",
        description="Print a state's system model (its repositories and explicit packages), "
        "as real moss does; `moss sync --import FILE` builds that selection on another "
        "machine.",
        epilog="example: moss state export 4 -o system-model.kdl")
    q.add_argument("id", type=int, nargs="?", help="state to export (default: the active one)")
    q.add_argument("-o", "--output", nargs="?", const="", metavar="PATH",
                   help="write to PATH (a folder: system-model-HOST-fstxn-ID.kdl in it; "
                   "no PATH: that name in the current folder) instead of printing")
    q.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    """``moss state export``: stdout, or the file real moss would name."""
    import os
    import socket
    from pathlib import Path

    from moss.actions import sysmodel
    from moss.core.fs import atomic_write
    from moss.states import operations

    text = sysmodel.export_state(args.directory, args.id)
    if args.output is None:
        sys.stdout.write(text)
        return 0
    state = args.id if args.id is not None else operations.active_state(args.directory)
    name = f"system-model-{socket.gethostname()}-fstxn-{state}.kdl"
    path = Path(args.output or ".")
    if path.is_dir():
        path = path / name
    try:
        atomic_write(path, text.encode())
    except OSError as exc:
        raise MossError(f"cannot write {path}: {os.strerror(exc.errno or 0)}") from None
    print(f"Exported to {path}")
    return 0
