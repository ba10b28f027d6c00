"""Running triggers: transaction triggers isolated on the new tree, system triggers live."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from moss.core.errors import MossError
from moss.core.progress import QUIET, Progress
from moss.core.run import CommandError, run
from moss.triggers.collect import Command, collect, walk_tree
from moss.triggers.definition import SYS_DIR, TX_DIR, load_triggers

SANDBOX = Path(__file__).with_name("sandbox.py")
UNSHARE = ["unshare", "--mount", "--pid", "--ipc", "--uts", "--net", "--fork", "--"]


def _sandboxed(command: Command, root: Path, usr: Path | None, readonly_etc: bool) -> list[str]:
    if shutil.which("unshare") is None:
        raise MossError("running triggers needs unshare (util-linux), which is not installed")
    # -I: the helper must not pick up anything from the environment or the cwd.
    argv = [*UNSHARE, sys.executable, "-I", str(SANDBOX), "--root", str(root)]
    if usr is not None:
        argv += ["--usr", str(usr)]
    if readonly_etc:
        argv.append("--readonly-etc")
    handler = command.handler
    if handler.run is None:
        return [*argv, "--delete", *handler.delete]
    return [*argv, "--", handler.run, *handler.args]


def _execute(commands: Sequence[Command], argvs: Sequence[list[str]], progress: Progress,
             which: str) -> None:
    """Each command in turn; one bar per kind of trigger, named by ``which`` ("transaction"
    or "system"), and none when there is nothing to run."""
    progress.start(f"Running {which} triggers", len(commands), "commands")
    for command, argv in zip(commands, argvs, strict=True):
        try:
            run(argv)
        except CommandError as exc:
            status = "not found" if exc.status is None else f"exit status {exc.status}"
            raise MossError(
                f"trigger {command.trigger} failed: {command.describe()} ({status})"
                + (f": {exc.last_line}" if exc.last_line else "")
            ) from exc
        progress.advance()
    progress.done()


def run_transaction_triggers(root: Path, staging_usr: Path, progress: Progress = QUIET) -> None:
    """Run ``tx.d`` triggers of the new tree with it mounted as ROOT/usr and /etc read-only.

    Raises MossError naming the trigger and its output if one fails, so the
    transaction stops before the tree becomes active.  The tree's ``sys.d``
    triggers, which run only once it is live, are read here too: a file there
    that cannot be read stops the transaction now, not after the switch.
    """
    load_triggers(staging_usr / SYS_DIR, staging_usr.parent)
    commands = collect(load_triggers(staging_usr / TX_DIR, staging_usr.parent),
                       walk_tree(staging_usr))
    argvs = [_sandboxed(c, root, staging_usr, readonly_etc=True) for c in commands]
    _execute(commands, argvs, progress, "transaction")


def run_system_triggers(root: Path, progress: Progress = QUIET) -> None:
    """Run ``sys.d`` triggers after activation: directly on ``/``, chrooted elsewhere."""
    usr = root / "usr"
    commands = collect(load_triggers(usr / SYS_DIR, usr.parent), walk_tree(usr))
    live = os.path.realpath(root) == "/"
    argvs = []
    for command in commands:
        handler = command.handler
        if not live:
            argvs.append(_sandboxed(command, root, None, readonly_etc=False))
        elif handler.run is None:
            argvs.append(["rm", "-rf", "--", *handler.delete])
        else:
            argvs.append([handler.run, *handler.args])
    _execute(commands, argvs, progress, "system")
