"""A command run on a pseudo-terminal, as a user at a keyboard runs it.

What moss shows depends on a terminal: progress only on one, fitted to its width,
and questions that wait for an answer.  :class:`Terminal` puts the command's
stdout and stderr (and, unless told otherwise, stdin) on a pty, collects all it
shows, types answers, and never waits forever: every read has a deadline.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import termios
import time
from pathlib import Path

from tests.support.interrupt import sigint_default

READ_STDIN = "0 0x0 " if os.uname().machine == "x86_64" else ""  # read(2) on fd 0


class Terminal:
    """A process with its output (and keyboard) on a pseudo-terminal.

    ``columns``: the width the terminal reports (a bare pty reports none);
    ``keyboard=False`` leaves stdin at /dev/null, for a command that must not ask.
    """

    def __init__(self, argv: list[str], *, columns: int = 0, keyboard: bool = True) -> None:
        self.leader, follower = pty.openpty()
        if columns:
            fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        stdin = follower if keyboard else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, stdin=stdin, stdout=follower, stderr=follower,
                                     preexec_fn=sigint_default)
        os.close(follower)
        self.shown = b""

    def wait_for(self, text: bytes, timeout: float = 60) -> None:
        """Read until ``text`` has been shown."""
        deadline = time.monotonic() + timeout
        while text not in self.shown:
            ready, _, _ = select.select([self.leader], [], [], deadline - time.monotonic())
            assert ready, f"timed out waiting for {text!r}; shown: {self.shown!r}"
            try:
                chunk = os.read(self.leader, 4096)
            except OSError:  # the process closed the terminal: it will not come
                chunk = b""
            assert chunk, f"ended before showing {text!r}; shown: {self.shown!r}"
            self.shown += chunk

    def wait_reading(self, timeout: float = 60) -> None:
        """Until the process sits in read(0, ...), so a signal cannot slip in before the read.

        (A SIGINT between the prompt and the read only sets Python's flag, and the
        read would then block: a race no human at a keyboard can hit.)
        """
        syscall = Path(f"/proc/{self.proc.pid}/syscall")
        deadline = time.monotonic() + timeout
        while not syscall.read_text().startswith(READ_STDIN):
            assert time.monotonic() < deadline, "the process never waited for the answer"
            time.sleep(0.01)

    def type(self, keys: bytes) -> None:
        os.write(self.leader, keys)

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Read to the end; the exit status and all that was shown (lines end in \\n)."""
        deadline = time.monotonic() + timeout
        while True:
            ready, _, _ = select.select([self.leader], [], [], deadline - time.monotonic())
            if not ready:
                self.proc.kill()
                raise AssertionError(f"the process did not finish; shown: {self.shown!r}")
            try:
                chunk = os.read(self.leader, 4096)
            except OSError:  # EIO: every writer closed the terminal
                break
            if not chunk:
                break
            self.shown += chunk
        status = self.proc.wait(timeout=60)
        os.close(self.leader)
        return status, self.shown.decode(errors="replace").replace("\r\n", "\n")


def run_on_terminal(argv: list[str], *, columns: int = 0, status: int = 0,
                    timeout: float = 60) -> str:
    """Run a command that asks nothing; assert its exit status and return what it showed."""
    term = Terminal(argv, columns=columns, keyboard=False)
    got, shown = term.finish(timeout)
    assert got == status, shown
    return shown


def run_with_keyboard(argv: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command whose stdin is a terminal but whose stdout and stderr are captured apart:
    for a command that must refuse before it asks, though it could ask."""
    leader, follower = pty.openpty()
    try:
        return subprocess.run(argv, stdin=follower, capture_output=True, text=True,
                              timeout=timeout)
    finally:
        os.close(follower)
        os.close(leader)
