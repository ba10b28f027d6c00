"""Run the pivot agent the way the initramfs does: ``python3 -I -S pivot.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).resolve().parents[2]
AGENT = PROJECT / "initrd" / "pivot.py"


@dataclass
class AgentRun:
    returncode: int
    stderr: str
    record: dict[str, Any] | None
    kmsg: list[str]


def run_agent(
    sysroot: Path,
    cmdline: str,
    work: Path,
    kill_at: str | None = None,
    prefix: list[str] | None = None,
) -> AgentRun:
    """Run the agent against ``sysroot``; the record and log land in ``work``.

    ``prefix`` wraps the command (``unshare ...``) for tests that need namespaces.
    The kernel log file is truncated first so ``kmsg`` holds this run's lines only.
    """
    run_dir = work / "run-moss"
    kmsg = work / "kmsg"
    kmsg.write_text("")
    record_path = run_dir / "pivot.json"
    if record_path.exists():
        record_path.unlink()
    env = dict(os.environ)
    env.pop("MOSS_PIVOT_KILL_AT", None)
    if kill_at:
        env["MOSS_PIVOT_KILL_AT"] = kill_at
    cmd = [
        *(prefix or []),
        sys.executable,
        "-I",
        "-S",
        str(AGENT),
        "--sysroot",
        str(sysroot),
        "--cmdline",
        cmdline,
        "--run-dir",
        str(run_dir),
        "--kmsg",
        str(kmsg),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    record = json.loads(record_path.read_text()) if record_path.exists() else None
    return AgentRun(proc.returncode, proc.stderr, record, kmsg.read_text().splitlines())
