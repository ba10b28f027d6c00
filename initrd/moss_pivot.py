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
  emulation costs seconds.  ``json`` alone would pull in ``re`` and ``enum``
  (~10 ms, more than the agent's own work), so the record is written by a
  ten-line encoder; ``ctypes`` is imported only when a syscall is needed.
- Two files: a script is compiled from source on every run (~12 ms here, far
  more under emulation), a module is loaded from its cached bytecode.  So
  ``pivot.py`` is a stub and this module holds the code; the dracut module
  installs it precompiled.
- ``MOSS_PIVOT_KILL_AT=<step>`` SIGKILLs the agent at a named step so tests can
  prove that every instant of an activation is recoverable by running it again.
"""

import os
import stat
import sys
import time

USAGE = "usage: pivot.py [--sysroot DIR] [--cmdline STRING] [--run-dir DIR] [--kmsg PATH]"
PARAM = "moss.fstx"
KILL_ENV = "MOSS_PIVOT_KILL_AT"
# Every point MOSS_PIVOT_KILL_AT accepts, in the order an activation passes them.
KILL_POINTS = (
    "before-exchange",
    "after-exchange",
    "after-archive-mkdir",
    "after-archive",
    "after-cleanup",
    "during-links",
    "after-links",
    "before-record",
    "during-repair",  # a second crash, while the next boot repairs the first one
)
ROOT_LINKS = (
    ("bin", "usr/bin"),
    ("sbin", "usr/sbin"),
    ("lib", "usr/lib"),
    ("lib64", "usr/lib"),
    ("lib32", "usr/lib32"),
)

# Linux mount(2) and statvfs flags; MS_* and ST_* agree for these three.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
RENAME_EXCHANGE = 2
AT_FDCWD = -100
_SYSCALL_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "riscv64": 276, "i686": 353}


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


# --- the kernel log ---------------------------------------------------------------------


class KernelLog:
    """Writes ``<level>moss-pivot: ...`` records; the last message becomes the record's reason."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.last = ""

    def __call__(self, level: int, message: str) -> None:
        self.last = message
        line = f"<{level}>moss-pivot: {message[:900]}\n".encode("utf-8", "backslashreplace")
        # Never create a file under /dev: without a kmsg device the line goes to stderr.
        flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
        if not self.path.startswith("/dev/"):
            flags |= os.O_CREAT
        try:
            fd = os.open(self.path, flags, 0o644)
        except OSError:
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
            return
        try:
            os.write(fd, line)
        except OSError:
            sys.stderr.buffer.write(line)
            sys.stderr.flush()
        finally:
            os.close(fd)


ERR, WARNING, INFO = 3, 4, 6


# --- parsing ------------------------------------------------------------------------------


def cmdline_words(cmdline: str) -> list[str]:
    """Split like the kernel: whitespace separates, double quotes group and are dropped."""
    words: list[str] = []
    current: list[str] = []
    quoted = False
    started = False
    for ch in cmdline:
        if ch == '"':
            quoted = not quoted
            started = True
        elif ch.isspace() and not quoted:
            if started:
                words.append("".join(current))
            current, started = [], False
        else:
            current.append(ch)
            started = True
    if started:
        words.append("".join(current))
    return words


def requested_value(cmdline: str) -> str | None:
    """The raw value of the last ``moss.fstx`` (the kernel's rule), ``""`` for a bare flag."""
    value: str | None = None
    for word in cmdline_words(cmdline):
        name, _, rest = word.partition("=")
        if name == PARAM:
            value = rest
    return value


def parse_state_id(text: str) -> int | None:
    """A state id is plain ASCII decimal; ``-1``, ``+3``, ``3.0`` and ``""`` are not."""
    text = text.strip()
    if text and text.isascii() and text.isdigit():
        return int(text)
    return None


def read_state_id(tree: str) -> int | None:
    try:
        fd = os.open(os.path.join(tree, ".stateID"), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, 64)
    except OSError:
        return None
    finally:
        os.close(fd)
    return parse_state_id(data.decode("ascii", "replace"))


# --- reading the sysroot -----------------------------------------------------------------


class Current:
    """What ``<sysroot>/usr`` is now.

    ``kind`` is ``dir`` (new layout), ``link`` (old layout: a symlink to
    ``.moss/root/<id>/usr``), ``dangling`` (a symlink to nothing bootable) or
    ``missing``.  ``problem`` says why a ``dir``/``link`` cannot be archived.
    """

    __slots__ = ("kind", "problem", "state_id")

    def __init__(self, kind: str, state_id: int | None = None, problem: str = "") -> None:
        self.kind = kind
        self.state_id = state_id
        self.problem = problem

    @property
    def bootable(self) -> bool:
        return self.kind in ("dir", "link")

    def describe(self) -> str:
        if self.state_id is not None:
            return f"state {self.state_id}"
        return {"missing": "no /usr", "dangling": "a dangling /usr link"}.get(
            self.kind, "a /usr without .stateID"
        )


def state_root(sysroot: str) -> str:
    return os.path.join(sysroot, ".moss", "root")


def link_target_in_sysroot(target: str) -> str:
    """Where a ``/usr`` symlink points, relative to the sysroot (not to the initramfs)."""
    parts = [p for p in os.path.normpath(target.lstrip("/")).split("/") if p not in ("", ".")]
    while parts and parts[0] == "..":  # ".." at the top of a root is the root itself
        parts.pop(0)
    return "/".join(parts)


def inspect_usr(sysroot: str) -> Current:
    usr = os.path.join(sysroot, "usr")
    try:
        st = os.lstat(usr)
    except FileNotFoundError:
        return Current("missing")
    if stat.S_ISDIR(st.st_mode):
        state_id = read_state_id(usr)
        return Current("dir", state_id, "" if state_id is not None else "/usr has no .stateID")
    if not stat.S_ISLNK(st.st_mode):
        return Current("missing")
    rel = link_target_in_sysroot(os.readlink(usr))
    parts = rel.split("/")
    tree = os.path.join(sysroot, rel)
    try:
        is_dir = stat.S_ISDIR(os.lstat(tree).st_mode)
    except OSError:
        is_dir = False
    if not is_dir:
        return Current("dangling")
    shaped = (
        len(parts) == 4
        and parts[:2] == [".moss", "root"]
        and parts[3] == "usr"
        and parse_state_id(parts[2]) is not None
    )
    if not shaped:
        return Current("link", None, f"/usr links to {rel}, not to .moss/root/<id>/usr")
    link_id = int(parts[2])
    tree_id = read_state_id(tree)
    if tree_id != link_id:
        return Current("link", None, f"/usr links to {rel} whose .stateID reads {tree_id}")
    return Current("link", link_id)


def check_archived(sysroot: str, state_id: int) -> str:
    """Empty if ``.moss/root/<id>/usr`` is a complete tree of that state, else why not."""
    tree = os.path.join(state_root(sysroot), str(state_id), "usr")
    try:
        st = os.lstat(tree)
    except FileNotFoundError:
        return f"state {state_id} is missing (no .moss/root/{state_id}/usr)"
    if not stat.S_ISDIR(st.st_mode):
        return f"state {state_id} is damaged (.moss/root/{state_id}/usr is not a directory)"
    found = read_state_id(tree)
    if found is None:
        return f"state {state_id} is incomplete (.moss/root/{state_id}/usr has no .stateID)"
    if found != state_id:
        return f"state {state_id} is mismatched (its .stateID reads {found})"
    return ""


# --- syscalls -----------------------------------------------------------------------------


def exchange(a: str, b: str) -> None:
    """renameat2(RENAME_EXCHANGE): the same call as ``moss.core.fs.exchange``."""
    import ctypes  # only when a syscall is needed: ~4 ms and a native library

    number = _SYSCALL_RENAMEAT2.get(os.uname().machine)
    if number is None:
        raise OSError(38, f"renameat2 not known on {os.uname().machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    res = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(os.fsencode(a)),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(os.fsencode(b)),
        ctypes.c_uint(RENAME_EXCHANGE),
    )
    if res != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), a, None, b)


def remount(target: str, read_only: bool) -> None:
    """Remount ``target`` keeping nosuid/nodev/noexec (atime options are kept by the kernel)."""
    import ctypes

    keep = os.statvfs(target).f_flag & (MS_NOSUID | MS_NODEV | MS_NOEXEC)
    flags = MS_REMOUNT | keep | (MS_RDONLY if read_only else 0)
    libc = ctypes.CDLL(None, use_errno=True)
    res = libc.mount(None, os.fsencode(target), None, ctypes.c_ulong(flags), None)
    if res != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), target)


def is_read_only(path: str) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


SIGKILL = 9  # signal.SIGKILL on Linux; the signal module would add enum & co. to the image


def kill_point(name: str) -> None:
    if os.environ.get(KILL_ENV) == name:
        os.kill(os.getpid(), SIGKILL)


# --- repair and activation -----------------------------------------------------------------


def plan_repairs(sysroot: str, current: Current) -> list[tuple[str, str, str]]:
    """Leftovers of an interrupted activation, as (action, path, destination).

    ``move``: ``.moss/root/X/usr`` holds state Y != X (a crash between the
    exchange and the archive rename) and belongs at ``.moss/root/Y/usr``.
    ``unlink``: ``.moss/root/X/usr`` is the old-layout ``/usr`` symlink that an
    exchange put there.  ``rmdir``: an empty ``.moss/root/X``.  ``staging``
    and anything not named by a number are never touched.
    """
    base = state_root(sysroot)
    try:
        names = os.listdir(base)
    except OSError:
        return []
    plan: list[tuple[str, str, str]] = []
    for name in sorted(names):
        if parse_state_id(name) is None or name != name.strip():
            continue
        slot = os.path.join(base, name)
        usr = os.path.join(slot, "usr")
        try:
            st = os.lstat(usr)
        except FileNotFoundError:
            if os.path.isdir(slot) and not os.path.islink(slot) and not os.listdir(slot):
                plan.append(("rmdir", slot, ""))
            continue
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode):
            if current.kind == "dir":
                plan.append(("unlink", usr, ""))
            continue
        if not stat.S_ISDIR(st.st_mode):
            continue
        owner = read_state_id(usr)
        if owner is None or owner == int(name):
            continue
        if current.kind == "dir" and owner == current.state_id:
            continue  # two trees claim the live id: leave it for a human to judge
        dest = os.path.join(base, str(owner), "usr")
        if not os.path.lexists(dest):
            plan.append(("move", usr, dest))
    # An empty slot that a move is about to fill is not a leftover.
    filling = {os.path.dirname(dest) for action, _, dest in plan if action == "move"}
    return [step for step in plan if not (step[0] == "rmdir" and step[1] in filling)]


def apply_repairs(plan: list[tuple[str, str, str]], log: KernelLog) -> None:
    for action, path, dest in plan:
        slot = os.path.dirname(path)
        if action == "rmdir":
            try:
                os.rmdir(path)
            except OSError:
                continue  # not empty after all: leave it
            fsync_dir(os.path.dirname(path))
            continue
        if action == "unlink":
            os.unlink(path)
        else:
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            os.rename(path, dest)
            fsync_dir(os.path.dirname(dest))
        kill_point("during-repair")
        try:
            os.rmdir(slot)
            fsync_dir(os.path.dirname(slot))
        except OSError:
            pass  # something else lives in the slot: harmless, keep it
        log(WARNING, f"repaired an interrupted activation: {action} {path} {dest}".rstrip())


def links_to_fix(sysroot: str) -> list[tuple[str, str]]:
    """Root links that are missing or point elsewhere, and stray temp links; real dirs stay."""
    todo: list[tuple[str, str]] = []
    for name, target in ROOT_LINKS:
        path = os.path.join(sysroot, name)
        if os.path.lexists(os.path.join(sysroot, f".{name}.moss-new")):
            todo.append((name, target))
            continue
        try:
            if os.readlink(path) == target:
                continue
        except FileNotFoundError:
            pass
        except OSError:
            continue  # a real directory (not a merged-/usr system): not ours to replace
        todo.append((name, target))
    return todo


def fix_links(sysroot: str, todo: list[tuple[str, str]]) -> None:
    """Recreate each link with symlink-to-temp + rename, like ``moss.core.fs.atomic_symlink``."""
    for name, target in todo:
        path = os.path.join(sysroot, name)
        if os.path.lexists(path) and not os.path.islink(path):
            continue  # a real directory (not a merged-/usr system): not ours to replace
        tmp = os.path.join(sysroot, f".{name}.moss-new")
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        kill_point("during-links")
        os.replace(tmp, path)
    if todo:
        fsync_dir(sysroot)


def activate(sysroot: str, current: Current, wanted: int) -> None:
    """Make archived state ``wanted`` the live /usr; the steps ``moss state activate`` takes."""
    base = state_root(sysroot)
    slot = os.path.join(base, str(wanted))
    tree = os.path.join(slot, "usr")
    usr = os.path.join(sysroot, "usr")
    kill_point("before-exchange")
    if current.kind == "missing":
        os.rename(tree, usr)  # nothing to exchange with; /usr only ever appears whole
    else:
        exchange(tree, usr)
    fsync_dir(sysroot)
    fsync_dir(slot)
    kill_point("after-exchange")
    if current.kind == "dir":
        archive = os.path.join(base, str(current.state_id))
        os.makedirs(archive, exist_ok=True)
        kill_point("after-archive-mkdir")
        os.rename(tree, os.path.join(archive, "usr"))
        fsync_dir(archive)
    elif current.kind in ("link", "dangling"):
        # Old layout: the symlink now sits in the slot; the old tree never moved.
        os.unlink(tree)
    kill_point("after-archive")
    os.rmdir(slot)
    fsync_dir(base)
    kill_point("after-cleanup")
    fix_links(sysroot, list(ROOT_LINKS))
    kill_point("after-links")


# --- the record ------------------------------------------------------------------------------


def json_string(text: str) -> str:
    """A JSON string literal; lone surrogates (undecodable file names) are escaped, not lost."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"' or ch == "\\":
            out.append("\\" + ch)
        elif code < 0x20 or code == 0x7F or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def json_object(record: dict[str, object]) -> str:
    items = []
    for key, value in record.items():
        if value is None:
            text = "null"
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, int | float):
            text = repr(value)
        else:
            text = json_string(str(value))
        items.append(f"{json_string(key)}: {text}")
    return "{" + ", ".join(items) + "}\n"


def write_record(run_dir: str, record: dict[str, object]) -> None:
    """``<run-dir>/pivot.json`` via temp file + rename: moss reads it whole or not at all."""
    os.makedirs(run_dir, exist_ok=True)
    path = os.path.join(run_dir, "pivot.json")
    tmp = os.path.join(run_dir, ".pivot.json.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o644)
    try:
        os.write(fd, json_object(record).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


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
        if not is_read_only(self.sysroot):
            return True
        if not self.tried:
            self.tried = True
            try:
                remount(self.sysroot, read_only=False)
                self.remounted = not is_read_only(self.sysroot)
            except OSError as exc:
                self.log(WARNING, f"cannot remount {self.sysroot} read-write: {exc.strerror}")
        return self.remounted

    def restore(self) -> None:
        if self.remounted:
            os.sync()
            try:
                remount(self.sysroot, read_only=True)
            except OSError as exc:
                self.log(WARNING, f"cannot remount {self.sysroot} read-only: {exc.strerror}")


def pivot(opts: Options, log: KernelLog) -> Outcome:
    """Everything between reading the command line and writing the record."""
    cmdline = opts.cmdline
    if cmdline is None:
        with open("/proc/cmdline", encoding="utf-8", errors="replace") as f:
            cmdline = f.read()
    raw = requested_value(cmdline)
    current = inspect_usr(opts.sysroot)
    if raw is None:
        log(INFO, f"no {PARAM} on the kernel command line; booting {current.describe()}")
        return Outcome(None, current.state_id, "no-request")
    wanted = parse_state_id(raw)
    if wanted is None:
        log(ERR, f"{PARAM}={raw!r} is not a state id; keeping {current.describe()}")
        return Outcome(None, current.state_id, "kept-current")
    writable = Writable(opts.sysroot, log)
    try:
        return _repair_and_activate(opts.sysroot, log, writable, current, wanted)
    finally:
        writable.restore()


def _repair_and_activate(
    sysroot: str, log: KernelLog, writable: Writable, current: Current, wanted: int
) -> Outcome:
    def archive_of(current: Current) -> str:
        return os.path.join(state_root(sysroot), str(current.state_id), "usr")

    previous = current.state_id
    repairs = plan_repairs(sysroot, current)
    links = links_to_fix(sysroot) if current.kind == "dir" else []
    repaired = ""
    if repairs or links:
        if writable.ensure():
            try:
                apply_repairs(repairs, log)
                fix_links(sysroot, links)
            except OSError as exc:
                log(ERR, f"repair failed: {exc}; booting {inspect_usr(sysroot).describe()}")
                return Outcome(wanted, previous, "failed")
            repaired = " (after repairing an interrupted activation)" if repairs else ""
        else:
            log(WARNING, f"{sysroot} is read-only: left an interrupted activation unrepaired")
    if wanted == current.state_id:
        log(INFO, f"state {wanted} is already active{repaired}")
        return Outcome(wanted, previous, "already-active")
    problem = check_archived(sysroot, wanted)
    if not problem and current.kind == "dir" and current.state_id is None:
        problem = "the current /usr has no .stateID to archive it under"
    elif not problem and current.problem:
        problem = current.problem
    elif not problem and current.kind == "dir" and os.path.lexists(archive_of(current)):
        problem = f".moss/root/{current.state_id}/usr already exists; cannot archive"
    if not problem and not writable.ensure():
        problem = f"{sysroot} is read-only and cannot be remounted read-write"
    if problem:
        log(ERR, f"{problem}; keeping {current.describe()}")
        return Outcome(wanted, previous, "kept-current")
    try:
        activate(sysroot, current, wanted)
    except OSError as exc:
        now = inspect_usr(sysroot)
        log(ERR, f"activating state {wanted} failed: {exc}; booting {now.describe()}")
        return Outcome(wanted, previous, "failed")
    log(INFO, f"activated state {wanted} (was {current.describe()}){repaired}")
    return Outcome(wanted, previous, "activated")


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
    after = inspect_usr(opts.sysroot)
    kill_point("before-record")
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
    if outcome.result != "no-request" and not after.bootable:
        log(ERR, f"{opts.sysroot} has no usable /usr ({after.describe()}); the boot will fail")
        return 1
    return 0

