"""The on-disk contract that moss and the initramfs pivot agent both live by.

Both change the same roots: moss on the running system, the agent in early boot
(``initrd/``).  Every rule they must agree on -- what a state id is, where a
state's tree lives, the root links, the exchange, when a directory is durable,
how a link is replaced -- is written here once and imported by both, so they
cannot drift apart.  Policy (what each of them refuses to touch, what it logs,
what it records, how it repairs) stays with each of them.

Why a module apart, and why it looks the way it does:

- Standard library only, and only ``os``, ``stat`` and ``sys`` at import time:
  the agent runs in a minimal initramfs Python where every module is a file
  dracut must copy in and every import costs start-up time.  ``ctypes`` (a native
  library, ~4 ms) is imported inside the functions that make a syscall.  No
  ``from __future__`` either: that is one more file to ship.
- It imports nothing from moss, and nothing may rely on ``moss/__init__.py`` or
  ``moss/core/__init__.py`` having run.  moss imports it as ``moss.core.ondisk``;
  the agent imports it as a top-level module ``ondisk``: the dracut module
  installs this file beside the agent (``/usr/lib/moss/ondisk.py``, precompiled),
  and in a source tree the agent's entry point ``initrd/pivot.py`` appends
  ``moss/core`` to ``sys.path`` (after the standard library, so no other file
  there can shadow a standard module).  There is no copy and no symlink, so
  mypy sees this file under one name only; the agent's modules import it as
  ``moss.core.ondisk`` when mypy reads them or when they are imported as the
  ``initrd`` package (tests).  ``moss/triggers/sandbox.py``, a script run with
  ``python3 -I``, finds it the same way.  (The model is mkosi's ``sandbox.py``:
  one stdlib-only file, imported as a library in many places.)

The state id rule (one rule for ``usr/.stateID``, ``.moss/root/<name>`` and
``moss.fstx=<value>``): a state id is 1 to 19 ASCII digits ``0-9`` whose value
fits SQLite's signed 64-bit integer.  Nothing else is a state id: no sign
(``-1``, ``+2``), no decimal point (``2.0``), no digits of other scripts
(``²``, ``٣``, which ``str.isdigit`` and ``int`` would accept), no empty text,
no ten megabytes of digits.  Then:

- ``.stateID`` contents and ``moss.fstx=`` values may carry ASCII whitespace
  around the digits (moss writes plain ``str(id)``; files written by hand or by
  older tools end in a newline, and both earlier copies of this rule accepted
  ``" 2"``, ``"2\\n"`` and ``"01"``, so those still read as 2 and 1).  A
  ``.stateID`` longer than :data:`STATE_ID_FILE_MAX` bytes, or not ASCII, is no
  id at all (never the number its first bytes spell).
- A directory under ``.moss/root`` is a state's slot only if its name is the id
  written exactly as moss writes it (``str(id)``): ``01``, `` 2`` or ``²`` are not
  where moss would ever look for a state, so both moss and the agent leave them
  alone.
"""

import os
import stat
import sys

# --- state ids ---------------------------------------------------------------------------

STATE_ID_FILE = ".stateID"
STATE_ID_FILE_MAX = 64  # bytes: more than any id with whitespace around it needs
MAX_STATE_ID = (1 << 63) - 1  # SQLite INTEGER: the state table's id column
_MAX_DIGITS = len(str(MAX_STATE_ID))
_ASCII_SPACE = " \t\n\r\v\f"

StrPath = str | os.PathLike[str]


def parse_state_id(text: str) -> int | None:
    """The id ``text`` spells (ASCII whitespace around it allowed), or None: see the module."""
    digits = text.strip(_ASCII_SPACE)
    if not (0 < len(digits) <= _MAX_DIGITS and digits.isascii() and digits.isdigit()):
        return None
    value = int(digits)
    return value if 0 < value <= MAX_STATE_ID else None  # ids start at 1, as the table's


def slot_state_id(name: str) -> int | None:
    """The id a ``.moss/root/<name>`` directory is the slot of: only ``str(id)`` itself."""
    value = parse_state_id(name)
    return value if value is not None and str(value) == name else None


def read_state_id(usr: StrPath) -> int | None:
    """The state a ``usr`` tree belongs to (its ``.stateID``), or None when it has none.

    Reads at most :data:`STATE_ID_FILE_MAX` + 1 bytes, so a huge or endless file
    costs nothing and reads as no id.
    """
    try:
        fd = os.open(os.path.join(usr, STATE_ID_FILE), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        data = os.read(fd, STATE_ID_FILE_MAX + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    if len(data) > STATE_ID_FILE_MAX or not data.isascii():
        return None
    return parse_state_id(data.decode("ascii"))


# --- where trees live --------------------------------------------------------------------

STATES_DIR = os.path.join(".moss", "root")  # archived trees: <root>/.moss/root/<id>/usr
STAGING = "staging"  # <root>/.moss/root/staging/usr: the tree being built


def states_dir(root: StrPath) -> str:
    return os.path.join(root, STATES_DIR)


def slot_usr(root: StrPath, state_id: int) -> str:
    """Where archived state ``state_id`` lives: ``<root>/.moss/root/<id>/usr``."""
    return os.path.join(root, STATES_DIR, str(state_id), "usr")


def state_slots(root: StrPath) -> list[tuple[str, int]]:
    """``(name, id)`` of every directory entry of ``.moss/root`` that is a state's slot.

    Sorted by name; entries whose name is not a state id (``staging``,
    ``removing-3``, ``01``, ``²``) are left out, and so is everything when the
    folder cannot be read.
    """
    try:
        names = os.listdir(states_dir(root))
    except OSError:
        return []
    slots = [(name, slot_state_id(name)) for name in sorted(names)]
    return [(name, sid) for name, sid in slots if sid is not None]


def misplaced_owner(slot_name: str, usr: StrPath) -> int | None:
    """The state whose tree sits in the wrong slot: ``usr`` is ``.moss/root/<slot_name>/usr``.

    A crash between the exchange and the archive rename leaves the previous
    ``/usr`` in the slot the new state came from; its ``.stateID`` names its real
    home.  None when ``usr`` is no real directory, has no id, or is in its own slot.
    """
    own = slot_state_id(slot_name)
    try:
        if own is None or not stat.S_ISDIR(os.lstat(usr).st_mode):
            return None
    except OSError:
        return None
    owner = read_state_id(usr)
    return owner if owner is not None and owner != own else None


def old_layout_id(target: str) -> int | None:
    """The state an old-layout ``/usr`` symlink names (``[/].moss/root/<id>/usr``), or None."""
    parts = link_target_in_root(target).split("/")
    if len(parts) == 4 and parts[:2] == [".moss", "root"] and parts[3] == "usr":
        return slot_state_id(parts[2])
    return None


def link_target_in_root(target: str) -> str:
    """Where a symlink at the top of a root points, relative to that root (not to ``/``)."""
    parts = [p for p in os.path.normpath(target.lstrip("/")).split("/") if p not in ("", ".")]
    while parts and parts[0] == "..":  # ".." at the top of a root is the root itself
        parts.pop(0)
    return "/".join(parts)


# --- the root links ----------------------------------------------------------------------

# Compatibility links at the top of the root, pointing into /usr, in the order they are made.
ROOT_LINKS: tuple[tuple[str, str], ...] = (
    ("bin", "usr/bin"),
    ("sbin", "usr/sbin"),
    ("lib", "usr/lib"),
    ("lib64", "usr/lib"),
    ("lib32", "usr/lib32"),
)


def link_temp_name(name: str) -> str:
    """The temp name a link is made under before it is renamed over ``name``."""
    return f".{name}.moss-new"


def temp_symlink(target: str, path: StrPath) -> str:
    """Make the temp link that will replace ``path``; returns its path.

    Renaming it over ``path`` (``os.replace``) finishes the replacement.  A temp
    link left by a crash is replaced.
    """
    head, name = os.path.split(os.fspath(path))
    tmp = os.path.join(head, link_temp_name(name))
    try:  # noqa: SIM105  (contextlib is one more module for the initramfs)
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    os.symlink(target, tmp)
    return tmp


def atomic_symlink(target: str, path: StrPath) -> None:
    """Point ``path`` at ``target``, replacing whatever link is there in one rename.

    The caller fsyncs the directory when it needs the link durable.
    """
    os.replace(temp_symlink(target, path), path)


# --- syscalls ----------------------------------------------------------------------------

AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2
# renameat2 has no glibc wrapper on older systems; the syscall number is stable per arch.
SYSCALL_RENAMEAT2 = {"x86_64": 316, "aarch64": 276, "riscv64": 276, "i686": 353}

# Linux mount(2) flags; the ST_* flags statvfs reports agree for the first four.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MNT_DETACH = 2  # umount2(2): detach now, free when no longer busy

ENOSYS = 38  # errno.ENOSYS on Linux; the errno module is one more file for the initramfs


def renameat2(src: StrPath, dst: StrPath, flags: int) -> None:
    """Call renameat2(2); raises OSError with the kernel's errno."""
    import ctypes  # only when a syscall is made: a native library and ~4 ms at start-up

    machine = os.uname().machine
    number = SYSCALL_RENAMEAT2.get(machine)
    if number is None or not sys.platform.startswith("linux"):
        raise OSError(ENOSYS, f"renameat2 not known on {sys.platform} {machine}")
    libc = ctypes.CDLL(None, use_errno=True)
    res = libc.syscall(
        ctypes.c_long(number),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(os.fsencode(src)),
        ctypes.c_int(AT_FDCWD),
        ctypes.c_char_p(os.fsencode(dst)),
        ctypes.c_uint(flags),
    )
    if res != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), os.fspath(src), None, os.fspath(dst))


def exchange(a: StrPath, b: StrPath) -> None:
    """Swap two existing paths atomically (either may be a directory or a symlink)."""
    renameat2(a, b, RENAME_EXCHANGE)


def mount(source: str | None, target: StrPath, fstype: str | None, flags: int) -> None:
    """mount(2) without data; raises OSError with the kernel's errno."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    res = libc.mount(
        os.fsencode(source) if source else None,
        os.fsencode(target),
        os.fsencode(fstype) if fstype else None,
        ctypes.c_ulong(flags),
        None,
    )
    if res != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), os.fspath(target))


def umount(target: StrPath, flags: int = 0) -> None:
    """umount2(2); raises OSError with the kernel's errno."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.umount2(os.fsencode(target), ctypes.c_int(flags)) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), os.fspath(target))


def fsync_dir(path: StrPath) -> None:
    """Make the entries of a directory (renames, new links) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- the read-only OS (DESIGN.md, "A read-only OS") ----------------------------------------

READONLY_CONF = os.path.join("etc", "moss", "readonly.conf")  # inside the root
READONLY_PARAM = "moss.readonly"  # kernel command line: 0 or 1 overrides ``enabled`` once
READONLY_MARKER = "readonly"  # <run-dir>/readonly (/run/moss/readonly): this boot is read-only
# The places meant to change, mounted writable over the read-only root.
DEFAULT_WRITABLE = ("/etc", "/var", "/home", "/root", "/opt", "/srv", "/tmp", "/mnt",
                    "/media", "/usr/local")
USR_LOCAL = "/usr/local"
USR_LOCAL_STORE = os.path.join("var", "usrlocal")  # what is bound onto /usr/local
_MANAGED = ("/usr", "/.moss")  # nothing at or below these is ever made writable
_MAX_PATH = 4096  # PATH_MAX
_MAX_PROBLEMS = 32  # reported one by one, then counted
_MAX_WRITABLE = 256  # entries in ``writable``; more are reported and left out
_YES = ("yes", "true", "1", "on")
_NO = ("no", "false", "0", "off")


class ReadonlyConf:
    """``readonly.conf`` read: ``enabled``, the ``writable`` list, and what was wrong in it."""

    __slots__ = ("enabled", "problems", "writable")

    def __init__(self, enabled: bool, writable: list[str], problems: list[str]) -> None:
        self.enabled = enabled
        self.writable = writable
        self.problems = problems


def parse_readonly_conf(text: str | None) -> ReadonlyConf:
    """``key = value`` lines like boot.conf; ``#`` starts a comment.  None: no file (off).

    Never raises: an unknown key, a bad value or a bad path is a problem (the
    caller logs it) and is skipped, since the agent must never fail a boot.
    """
    problems: list[str] = []
    enabled, writable = False, list(DEFAULT_WRITABLE)
    for number, raw in enumerate((text or "").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = (part.strip() for part in line.partition("="))
        if key == "enabled" and sep and value.lower() in _YES + _NO:
            enabled = value.lower() in _YES
        elif key == "writable" and sep:
            writable = []
            for path in value.split():
                problem = writable_path_problem(path)
                if not problem and len(writable) >= _MAX_WRITABLE:
                    problem = f"{path!r} is past the first {_MAX_WRITABLE} places"
                if problem:
                    problems.append(f"line {number}: {problem}")
                elif path not in writable:
                    writable.append(path)
        else:
            problems.append(f"line {number}: ignored {raw.strip()[:200]!r}")
    if len(problems) > _MAX_PROBLEMS:  # each is a kernel log line
        problems[_MAX_PROBLEMS:] = [f"{len(problems) - _MAX_PROBLEMS} more problems"]
    return ReadonlyConf(enabled, writable, problems)


def writable_path_problem(path: str) -> str:
    """Why ``path`` cannot be a writable place (empty when it can).

    The rule, for any text the file can hold: one plain absolute path in its
    normal form (no ``.``/``..``, no doubled or trailing ``/``, no control
    character, no NUL, nothing the file's bytes did not decode to), and never
    ``/``, ``/usr``, ``/.moss`` or anything below ``/usr`` or ``/.moss``: those are
    the OS moss manages, and a bind there would leave that folder of the archived
    state writable too (its files are the live ones, through shared inodes).
    ``/usr/local`` alone is allowed: it is bound from ``/var/usrlocal``, never
    from the tree itself.
    """
    if any(ord(ch) < 0x20 or 0x7f <= ord(ch) < 0xa0 or ch == "\ufffd" for ch in path):
        return f"{path!r} holds a control character or bytes that are not UTF-8"
    if (not path.startswith("/") or path.startswith("//") or len(path) > _MAX_PATH
            or os.path.normpath(path) != path):
        return f"{path!r} is not an absolute, normalised path"
    if path == USR_LOCAL:
        return ""
    if path == "/" or any(path == top or path.startswith(top + "/") for top in _MANAGED):
        return f"{path!r} cannot be writable: it is the OS moss manages"
    return ""


def readonly_override(words: list[str]) -> bool | None:
    """The last ``moss.readonly=0|1`` among the command line's words, or None."""
    value: bool | None = None
    for word in words:
        name, _, rest = word.partition("=")
        if name == READONLY_PARAM and rest in ("0", "1"):
            value = rest == "1"
    return value
