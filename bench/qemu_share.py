"""The pivot agent's share of a real boot, from the QEMU tests' own report.

``qemu-tests/`` boots a moss-built OS under TCG (OVMF, systemd-boot, a dracut
initramfs with the agent) and prints, per boot, a ``[qemu] ...`` line with the
kernel's time to init, the agent's own work (``elapsed_ms`` from its record) and
the time from the root's mount to the agent's log line (interpreter start-up and
dracut's hooks included).  This runs the one default-boot test (~30 s) and reads
that line.  It is opt-in (``python -m bench --qemu``): a TCG boot is slow and
heavy on a shared 2-core machine.  Without it, the table carries a row that says
the figure was not measured.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from bench.common import Result

PROJECT = Path(__file__).resolve().parent.parent
TEST = "qemu-tests/test_boot.py"
SELECT = "test_default_boot_reaches_the_newest_state"
TIMEOUT = 600
ROW = "pivot agent: share of a QEMU (TCG) boot"
# Two spellings of the report line, newest first.
_FORMS = (
    re.compile(r"init at (?P<init>[\d.]+) s kernel time; agent: (?P<agent>[\d.]+) ms of work"
               r"(?:.*?, (?P<gap>[\d.]+) s from root mount to its line)?"),
    re.compile(r"agent (?P<agent>[\d.]+) ms = [\d.]+% of the kernel's (?P<init>[\d.]+) s to init"),
)


def placeholder() -> Result:
    return Result(ROW, None, None, "kernel's time to init",
                  note="not measured in this run: `python -m bench --qemu` boots one "
                       "(~30 s under TCG)")


def parse(output: str) -> list[Result]:
    """Rows from the first ``[qemu]`` line that reports the agent."""
    for line in output.splitlines():
        if not line.startswith("[qemu]"):
            continue
        for form in _FORMS:
            match = form.search(line)
            if match is None:
                continue
            init = float(match["init"])
            rows = [Result(f"{ROW}, agent's work", float(match["agent"]) / 1000, init,
                           "kernel's time to init")]
            if match.groupdict().get("gap"):
                rows.append(Result(f"{ROW}, root mount to agent's line", float(match["gap"]),
                                   init, "kernel's time to init"))
            return rows
    raise RuntimeError(f"no [qemu] line with the agent's time in the output of {TEST}")


def run(quick: bool) -> list[Result]:
    del quick  # one boot either way: there is nothing smaller
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", TEST, "-k", SELECT, "-s", "-q",
         "-p", "no:cacheprovider"],
        cwd=PROJECT, capture_output=True, text=True, timeout=TIMEOUT, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{TEST} failed or skipped:\n{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return parse(proc.stdout)
