"""What the pivot agent reads and writes outside the sysroot: command line, kernel log, record.

Standard library only and no imports beyond ``os`` and ``sys``: ``json`` alone
would pull in ``re`` and ``enum`` (~10 ms, more than the agent's own work), so
the record is written by a ten-line encoder.
"""

import os
import sys

PARAM = "moss.fstx"
ERR, WARNING, INFO = 3, 4, 6  # kernel log levels


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


# --- the kernel command line ---------------------------------------------------------------


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
