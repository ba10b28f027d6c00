"""The moss pivot agent: make the state a boot entry names the live ``/usr``.

(``pivot.py`` beside this file is the entry point; this module is the agent.)

It runs in the initramfs after the real root is mounted at ``/sysroot`` and
before switch-root (see DESIGN.md, "The kernel command line contract"):

    python3 -I -S pivot.py [--sysroot DIR] [--cmdline STRING] [--run-dir DIR] [--kmsg PATH]

The boot entry carries ``moss.fstx=<id>``.  When that state is not the one in
``/sysroot/usr``, the agent activates it *persistently* with exactly the steps
``moss state activate`` uses, so a choice in the boot menu is a real rollback
and a staged (deferred) state goes live.  Whatever happens -- a missing or
damaged state, a garbage value, a read-only root, a power cut at any instant --
the machine is left with a complete ``/usr`` to boot.

Why the code looks the way it does:

- Standard library only, and as little of it as possible: every module is a
  file dracut must copy into the image and the first Python start under
  emulation costs seconds.  ``ctypes`` is imported only when a syscall is needed.
- A stub and modules: a script is compiled from source on every run (~12 ms
  here, far more under emulation), a module is loaded from its cached bytecode.
  So ``pivot.py`` is a stub; this module holds the decision (the agent's policy),
  ``pivot_sysroot.py`` the reading, repairing and activating of the sysroot,
  ``pivot_record.py`` the command line, the kernel log and the record.  The rules
  moss and the agent share (state ids, slots, links, the exchange) are moss's own
  ``moss/core/ondisk.py``, which the agent imports as ``ondisk``: the dracut
  module installs it beside these files, precompiled like them, and ``pivot.py``
  finds it in a source tree (see ``ondisk``'s docstring).
- ``MOSS_PIVOT_KILL_AT=<step>`` SIGKILLs the agent at a named step so tests can
  prove that every instant of an activation is recoverable by running it again.
"""

import os
import sys
import time

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (mypy knows the name)
if TYPE_CHECKING or __package__:  # mypy, and tests importing the ``initrd`` package
    from initrd import pivot_readonly as readonly
    from initrd import pivot_sysroot as tree
    from initrd.pivot_record import (
        ERR,
        INFO,
        PARAM,
        WARNING,
        KernelLog,
        requested_value,
        write_record,
    )
    from moss.core import ondisk
else:  # flat beside pivot.py: the initramfs, or ``python3 -I -S initrd/pivot.py``
    import ondisk
    import pivot_readonly as readonly
    import pivot_sysroot as tree
    from pivot_record import ERR, INFO, PARAM, WARNING, KernelLog, requested_value, write_record

USAGE = "usage: pivot.py [--sysroot DIR] [--cmdline STRING] [--run-dir DIR] [--kmsg PATH]"


class Options:
    __slots__ = ("cmdline", "kmsg", "run_dir", "sysroot")

    def __init__(self) -> None:
        self.sysroot = "/sysroot"
        self.cmdline: str | None = None
        self.run_dir = "/run/moss"
        self.kmsg = "/dev/kmsg"


class UsageError(Exception):
    pass


def parse_args(argv: list[str]) -> Options:
    """``--opt VALUE`` and ``--opt=VALUE``; argparse costs more than this whole agent."""
    opts = Options()
    names = {
        "--sysroot": "sysroot",
        "--cmdline": "cmdline",
        "--run-dir": "run_dir",
        "--kmsg": "kmsg",
    }
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg in ("-h", "--help"):
            raise UsageError(USAGE)
        key, eq, value = arg.partition("=")
        if key not in names:
            raise UsageError(f"pivot.py: unknown argument {arg!r}\n{USAGE}")
        if not eq:
            if i + 1 >= len(argv):
                raise UsageError(f"pivot.py: {arg} needs a value\n{USAGE}")
            i += 1
            value = argv[i]
        setattr(opts, names[key], value)
        i += 1
    return opts


# --- the decision ----------------------------------------------------------------------------


class Outcome:
    __slots__ = ("previous", "requested", "result")

    def __init__(self, requested: int | None, previous: int | None, result: str) -> None:
        self.requested = requested
        self.previous = previous
        self.result = result


class Writable:
    """Remounts the sysroot read-write on first need, and read-only again at the end."""

    def __init__(self, sysroot: str, log: KernelLog) -> None:
        self.sysroot = sysroot
        self.log = log
        self.tried = False
        self.remounted = False

    def ensure(self) -> bool:
        if not tree.is_read_only(self.sysroot):
            return True
        if not self.tried:
            self.tried = True
            try:
                tree.remount(self.sysroot, read_only=False)
                self.remounted = not tree.is_read_only(self.sysroot)
            except OSError as exc:
                self.log(WARNING, f"cannot remount {self.sysroot} read-write: {exc.strerror}")
        return self.remounted

    def restore(self) -> None:
        if self.remounted:
            os.sync()
            try:
                tree.remount(self.sysroot, read_only=True)
            except OSError as exc:
                self.log(WARNING, f"cannot remount {self.sysroot} read-only: {exc.strerror}")


def pivot(opts: Options, log: KernelLog) -> Outcome:
    """Everything between reading the command line and writing the record."""
    cmdline = opts.cmdline
    if cmdline is None:
        with open("/proc/cmdline", encoding="utf-8", errors="replace") as f:
            cmdline = f.read()
    raw = requested_value(cmdline)
    current = tree.inspect_usr(opts.sysroot)
    if raw is None:
        log(INFO, f"no {PARAM} on the kernel command line; booting {current.describe()}")
        return Outcome(None, current.state_id, "no-request")
    wanted = ondisk.parse_state_id(raw)
    if wanted is None:
        log(ERR, f"{PARAM}={raw!r} is not a state id; keeping {current.describe()}")
        return Outcome(None, current.state_id, "kept-current")
    writable = Writable(opts.sysroot, log)
    try:
        return _repair_and_activate(opts.sysroot, log, writable, current, wanted)
    finally:
        writable.restore()


def _repair(sysroot: str, log: KernelLog, writable: Writable, current: tree.Current) -> str | None:
    """Finish what a crash left; returns a note for the log, or None if a repair failed."""
    repairs = tree.plan_repairs(sysroot, current)
    links = tree.links_to_fix(sysroot) if current.kind == "dir" else []
    if not repairs and not links:
        return ""
    if not writable.ensure():
        log(WARNING, f"{sysroot} is read-only: left an interrupted activation unrepaired")
        return ""
    try:
        tree.apply_repairs(repairs, log)
        tree.fix_links(sysroot, links)
    except OSError as exc:
        log(ERR, f"repair failed: {exc}; booting {tree.inspect_usr(sysroot).describe()}")
        return None
    return " (after repairing an interrupted activation)" if repairs else ""


def _why_not(sysroot: str, writable: Writable, current: tree.Current, wanted: int) -> str:
    """Empty if state ``wanted`` can replace ``current``, else why the agent keeps ``current``."""
    problem = tree.check_archived(sysroot, wanted)
    if problem:
        return problem
    if current.kind == "dir" and current.state_id is None:
        return "the current /usr has no .stateID to archive it under"
    if current.problem:
        return current.problem
    archive = ondisk.slot_usr(sysroot, current.state_id) if current.state_id is not None else ""
    if current.kind == "dir" and archive and os.path.lexists(archive):
        return f".moss/root/{current.state_id}/usr already exists; cannot archive"
    if not writable.ensure():
        return f"{sysroot} is read-only and cannot be remounted read-write"
    return ""


def _repair_and_activate(
    sysroot: str, log: KernelLog, writable: Writable, current: tree.Current, wanted: int
) -> Outcome:
    previous = current.state_id
    repaired = _repair(sysroot, log, writable, current)
    if repaired is None:
        return Outcome(wanted, previous, "failed")
    if wanted == current.state_id:
        log(INFO, f"state {wanted} is already active{repaired}")
        return Outcome(wanted, previous, "already-active")
    problem = _why_not(sysroot, writable, current, wanted)
    if problem:
        log(ERR, f"{problem}; keeping {current.describe()}")
        return Outcome(wanted, previous, "kept-current")
    try:
        tree.activate(sysroot, current, wanted)
    except OSError as exc:
        now = tree.inspect_usr(sysroot)
        log(ERR, f"activating state {wanted} failed: {exc}; booting {now.describe()}")
        return Outcome(wanted, previous, "failed")
    log(INFO, f"activated state {wanted} (was {current.describe()}){repaired}")
    return Outcome(wanted, previous, "activated")


def _read_only_os(opts: Options, log: KernelLog) -> None:
    """After the pivot (and its record): the read-only OS, if the machine asks for it."""
    try:
        cmdline = opts.cmdline
        if cmdline is None:
            with open("/proc/cmdline", encoding="utf-8", errors="replace") as f:
                cmdline = f.read()
        readonly.set_up(opts.sysroot, cmdline, opts.run_dir, log)
    except Exception as exc:  # a bug here must not cost the boot
        log(ERR, f"read-only OS: unexpected {type(exc).__name__}: {exc}; root left writable")


def main(argv: list[str], start: float | None = None) -> int:
    """Run the agent; ``start`` is the ``time.perf_counter()`` of the entry point."""
    start = time.perf_counter() if start is None else start
    try:
        opts = parse_args(argv)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return 2
    log = KernelLog(opts.kmsg)
    try:
        outcome = pivot(opts, log)
    except Exception as exc:  # a bug must still leave a record and a log line, not just a trace
        log(ERR, f"unexpected {type(exc).__name__}: {exc}")
        outcome = Outcome(None, None, "failed")
    after = tree.inspect_usr(opts.sysroot)
    tree.kill_point("before-record")
    record: dict[str, object] = {
        "requested": outcome.requested,
        "previous": outcome.previous,
        "active": after.state_id,
        "result": outcome.result,
        "reason": log.last,
        "elapsed_ms": round((time.perf_counter() - start) * 1000, 3),
        "time": time.time(),
    }
    try:
        write_record(opts.run_dir, record)
    except OSError as exc:
        log(ERR, f"cannot write {opts.run_dir}/pivot.json: {exc}")
    _read_only_os(opts, log)
    if outcome.result != "no-request" and not after.bootable:
        log(ERR, f"{opts.sysroot} has no usable /usr ({after.describe()}); the boot will fail")
        return 1
    return 0

