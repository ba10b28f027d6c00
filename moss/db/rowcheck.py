"""Every value read from a database row, checked against what moss can store and use.

The databases only index what the disk keeps, and anyone (a bug, a tool, an attacker
with the disk) can write any value into them: SQLite columns are not typed, so an
``INT`` column may hold text, a huge number, a blob or NULL.  A value outside the
range moss works with must not reach ``chown``, ``symlink``, a sort or a path join and
come out as a traceback (issue 23): each reader checks its row here, at the point it
is read, and turns a bad value into one line naming the database, the package or
state, and ``moss state rebuild``.
"""

from __future__ import annotations

#: What the stone format, SQLite and the kernel all hold: signed 64-bit.
INT64_MAX = (1 << 63) - 1
#: uid, gid and tag are 32-bit in a layout record; ``(uid_t)-1`` means "no change"
#: to chown, so it is not an owner either.
ID32_MAX = (1 << 32) - 2
MODE_MAX = 0o177777
#: A symlink's contents: the kernel refuses PATH_MAX (4096) bytes and more.
MAX_LINK_BYTES = 4095
#: The latest unix time moss shows or compares (9999-12-31T23:59:59Z).
TIME_MAX = 253402300799


class BadValue(ValueError):
    """A row value outside what moss can use; the message says which and why."""


def integer(value: object, what: str, low: int = 0, high: int = INT64_MAX) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise BadValue(f"{what} is {_shown(value)}, not an integer from {low} to {high}")
    return value


def optional_integer(value: object, what: str, low: int = 0, high: int = INT64_MAX) -> int | None:
    return None if value is None else integer(value, what, low, high)


def text(value: object, what: str) -> str:
    if not isinstance(value, str) or "\0" in value:
        raise BadValue(f"{what} is {_shown(value)}, not text")
    return value


def optional_text(value: object, what: str) -> str | None:
    return None if value is None else text(value, what)


def digest(value: object, what: str = "digest") -> int:
    """An XXH3-128, as real moss writes it: a decimal number below 2**128."""
    if not isinstance(value, str | int) or isinstance(value, bool) \
            or not str(value).isdigit() or len(str(value)) > 39 or int(value) >> 128:
        raise BadValue(f"{what} is {_shown(value)}, not a 128-bit decimal digest")
    return int(value)


def hex_digest(value: object, what: str, longest: int) -> str:
    """A digest as the store names its blobs: 1 to ``longest`` lowercase hex digits (real
    moss writes no leading zeros), so it can never name a path of its own (``../..``)."""
    if not isinstance(value, str) or not 0 < len(value) <= longest \
            or value.strip("0123456789abcdef"):
        raise BadValue(f"{what} is {_shown(value)}, not up to {longest} hex digits")
    return value


def path(value: object, what: str) -> str:
    """A path relative to ``/usr`` that stays inside it, as a package's layout may hold."""
    from moss.stone.targets import target_problem  # layouts only: not for `state list`

    checked = text(value, what)
    problem = target_problem(checked)
    if problem:
        raise BadValue(f"{what} {_shown(checked)} {problem}")
    return checked


def link(value: object, what: str) -> str:
    """A symlink's contents: anything the kernel can hold, not empty, no NUL."""
    checked = text(value, what)
    if not checked or len(checked.encode(errors="surrogateescape")) > MAX_LINK_BYTES:
        raise BadValue(f"{what} is {len(checked.encode(errors='surrogateescape'))} bytes; "
                       f"a symlink holds 1 to {MAX_LINK_BYTES}")
    return checked


def _shown(value: object) -> str:
    shown = repr(value)
    return shown if len(shown) <= 60 else shown[:57] + "..."
