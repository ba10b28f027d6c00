"""How long the pivot agent costs a boot, measured natively.

Runs ``python3 -I -S initrd/pivot.py`` ~20 times against a fake sysroot, each
run a real activation (alternating between two states, so every run exchanges
``/usr``, archives the old tree and rewrites the root links), and compares the
median wall time with the interpreter's own start-up (``python3 -I -S -c pass``).
The difference is what the agent adds on top of starting Python.

    .venv/bin/python -m bench.pivot_time [--runs 20] [--python /usr/bin/python3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported in run(): `python bench/pivot_time.py` has no `bench` on its path
    from bench.common import Result

AGENT = Path(__file__).resolve().parent.parent / "initrd" / "pivot.py"


def make_tree(usr: Path, state_id: int, files: int) -> None:
    (usr / "bin").mkdir(parents=True)
    (usr / "lib").mkdir()
    for i in range(files):
        (usr / "lib" / f"file{i}").write_text(f"state {state_id} file {i}\n")
    (usr / ".stateID").write_text(str(state_id))


def make_sysroot(root: Path, files: int) -> None:
    """State 1 live, state 2 archived, the root links in place (a moss system in miniature)."""
    make_tree(root / "usr", 1, files)
    make_tree(root / ".moss" / "root" / "2" / "usr", 2, files)
    for name, target in (("bin", "usr/bin"), ("sbin", "usr/sbin"), ("lib", "usr/lib"),
                         ("lib64", "usr/lib"), ("lib32", "usr/lib32")):  # fmt: skip
        os.symlink(target, root / name)


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return (time.perf_counter() - start) * 1000


def measure(python: str, runs: int, files: int) -> dict[str, float | int | str]:
    work = Path(tempfile.mkdtemp(prefix="moss-pivot-bench.", dir="/var/tmp"))
    try:
        sysroot = work / "sysroot"
        make_sysroot(sysroot, files)
        baseline = [timed([python, "-I", "-S", "-c", "pass"]) for _ in range(runs)]
        agent: list[float] = []
        inside: list[float] = []
        for i in range(runs):
            wanted = 2 if i % 2 == 0 else 1
            cmd = [python, "-I", "-S", str(AGENT), "--sysroot", str(sysroot),
                   "--cmdline", f"root=/dev/vda moss.fstx={wanted}",
                   "--run-dir", str(work / "run"), "--kmsg", str(work / "kmsg")]  # fmt: skip
            agent.append(timed(cmd))
            record = json.loads((work / "run" / "pivot.json").read_text())
            if record["result"] != "activated":
                raise SystemExit(f"run {i}: expected an activation, got {record}")
            inside.append(record["elapsed_ms"])
        no_request = [
            timed([python, "-I", "-S", str(AGENT), "--sysroot", str(sysroot), "--cmdline",
                   "quiet", "--run-dir", str(work / "run"), "--kmsg", str(work / "kmsg")])
            for _ in range(runs)
        ]  # fmt: skip
    finally:
        shutil.rmtree(work)
    base = statistics.median(baseline)
    run = statistics.median(agent)
    return {
        "python": python,
        "runs": runs,
        "python_startup_ms": round(base, 2),
        "agent_activation_ms": round(run, 2),
        "agent_over_startup_ms": round(run - base, 2),
        "agent_no_request_ms": round(statistics.median(no_request), 2),
        "agent_internal_ms": round(statistics.median(inside), 2),
    }


def system_python() -> str:
    """The interpreter an initramfs would carry: the system's, not the venv's."""
    return "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable


def run(quick: bool) -> list[Result]:
    from bench.common import Result

    m = measure(system_python(), 10 if quick else 20, 200)
    ms = 1000.0
    return [
        Result("pivot agent: activation, native", float(m["agent_activation_ms"]) / ms,
               float(m["python_startup_ms"]) / ms, "python3 -I -S start-up"),
        Result("pivot agent: no moss.fstx, native", float(m["agent_no_request_ms"]) / ms,
               float(m["python_startup_ms"]) / ms, "python3 -I -S start-up"),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--files", type=int, default=200, help="files per fake /usr tree")
    parser.add_argument("--python", default=system_python(), help="the initramfs's interpreter")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    result = measure(args.python, args.runs, args.files)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
