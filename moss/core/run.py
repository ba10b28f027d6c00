"""The one way moss runs another program.

The argv is always a list (never a shell, so no quoting can go wrong), the
output is captured, and a failure becomes one line a user can act on: which
command, its exit status, and the last line it wrote to stderr.  Callers that
probe (``blkid``, ``lsblk``) catch :class:`CommandError` and carry on.
"""

from __future__ import annotations

import subprocess
from collections.abc import Sequence
from pathlib import Path

from moss.core.errors import MossError


class CommandError(MossError):
    """A command that could not start (``status`` None) or exited non-zero."""

    def __init__(self, message: str, argv: Sequence[str], status: int | None,
                 last_line: str) -> None:
        super().__init__(message)
        self.argv = list(argv)
        self.status = status
        self.last_line = last_line


def last_line(*outputs: str) -> str:
    """The last non-empty line of the first output that has one (stderr before stdout)."""
    for output in outputs:
        lines = [line.strip() for line in output.splitlines() if line.strip()]
        if lines:
            return lines[-1]
    return ""


def run(
    argv: Sequence[str | Path],
    *,
    name: str | None = None,
    missing: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` to completion and return its captured output; CommandError if it fails.

    ``name`` is how the message names the command (default: the argv itself);
    ``missing`` replaces the message when the program is not installed.
    """
    args = [str(a) for a in argv]
    label = name or " ".join(args)
    try:
        result = subprocess.run(args, check=False, capture_output=True, text=True,
                                errors="replace")
    except FileNotFoundError:
        raise CommandError(missing or f"{args[0]} is not installed (needed for {label})",
                           args, None, "") from None
    except OSError as exc:
        # E2BIG (an argv past ARG_MAX), EACCES, ENOEXEC: the program never started.
        raise CommandError(f"{args[0]} could not be started ({exc.strerror or exc})",
                           args, None, "") from None
    if result.returncode != 0:
        line = last_line(result.stderr, result.stdout)
        raise CommandError(f"{label} failed ({result.returncode})" + (f": {line}" if line else ""),
                           args, result.returncode, line)
    return result
