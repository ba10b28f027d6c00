"""logind's inhibitor lock while moss changes a root, as real moss's ``signal::inhibit``.

Real moss asks logind to block shutdown, sleep, idle and the lid switch while it
applies a state, so closing a laptop's lid does not suspend it halfway through an
update.  The lock lives as long as a ``systemd-inhibit ... cat`` child: moss holds
the write end of its stdin, so the lock goes when moss closes it, and also when
moss is killed (the kernel closes the pipe, ``cat`` sees the end, logind drops the
lock).  The child has a session of its own, so a Ctrl-C meant for moss does not
end it early.

It is best effort, as in real moss: without systemd as init (a container, a build
chroot, this machine's CI) or without ``systemd-inhibit``, moss goes on unlocked.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator

WHAT = "shutdown:sleep:idle:handle-lid-switch"  # real moss's list


@contextlib.contextmanager
def inhibited(why: str) -> Iterator[None]:
    """Hold logind's block lock for ``WHAT`` while the ``with`` body runs."""
    child = _take(why)
    try:
        yield
    finally:
        if child is not None:
            _release(child)


def _take(why: str) -> subprocess.Popen[bytes] | None:
    if not os.path.isdir("/run/systemd/system"):  # systemd's own test for "booted with it"
        return None
    argv = ["systemd-inhibit", f"--what={WHAT}", "--who=moss", f"--why={why}",
            "--mode=block", "cat"]
    try:
        return subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError:
        return None


def _release(child: subprocess.Popen[bytes]) -> None:
    if child.stdin is not None:
        child.stdin.close()  # cat ends, systemd-inhibit ends, logind drops the lock
    try:
        child.wait(timeout=5)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
