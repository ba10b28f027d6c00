"""How long moss takes to start: the first figure a user meets (issue 18).

Each command runs as a user runs it, a fresh process, against the interpreter's own
start-up (``python -I -c pass``) in the same run; the runs are interleaved (one of
each per round) so a change in the machine's load hits every command alike, and
the figure is the median of the rounds, and the note the middle half of the per-round
ratios (the spread the machine's load gave).

* ``moss --version`` and ``moss --help``: the parser only;
* ``moss state list`` and ``moss info NAME`` on a small root (two packages installed
  through ``moss install``): a query, which opens the databases;
* ``moss --version`` through the console script (``.venv/bin/moss``), when the venv
  has one: what an entry point adds to ``python -m moss``.

    python -m bench.startup [--rounds 21] [--quick]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Result, print_results, workdir

PROJECT = Path(__file__).resolve().parent.parent
BASELINE = "python -I -c pass"


def _env(pycache: Path) -> dict[str, str]:
    """This tree's moss first, whatever an editable install in the venv points at, and
    its bytecode cached (in ``pycache``, not the tree) as an installed moss has it: a
    shell with PYTHONDONTWRITEBYTECODE=1 would otherwise compile moss on every run."""
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "PYTHONPYCACHEPREFIX": str(pycache)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _run(argv: list[str], env: dict[str, str]) -> float:
    """Wall time of one process, start to exit; its output is read and dropped."""
    start = time.perf_counter()
    proc = subprocess.run(argv, cwd=PROJECT, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): "
                           f"{proc.stderr.decode(errors='replace').strip()}")
    return elapsed


def small_root(work: Path, env: dict[str, str]) -> Path:
    """A root with two states, made by ``moss install`` of two generated packages."""
    from moss.stone import PackageMeta
    from moss.stonetools.pack import pack_tree

    root = work / "root"
    root.mkdir()
    for name in ("hello", "world"):
        tree = work / f"tree-{name}"
        (tree / "bin").mkdir(parents=True)
        (tree / "bin" / name).write_text(f"#!/bin/sh\necho {name}\n")
        (tree / "share" / name).mkdir(parents=True)
        for i in range(20):
            (tree / "share" / name / f"doc{i}.txt").write_text(f"{name} {i}\n")
        meta = PackageMeta(name=name, version="1.0", release=1, summary=f"says {name}")
        stone = pack_tree(tree, meta, work / f"{name}.stone", level=1)
        _run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", "install",
              str(stone)], env)
    return root


def commands(root: Path) -> dict[str, list[str]]:
    """Each figure's name and its command line (the baseline's key is BASELINE)."""
    moss = [sys.executable, "-m", "moss"]
    out = {
        BASELINE: [sys.executable, "-I", "-c", "pass"],
        "startup: moss --version": [*moss, "--version"],
        "startup: moss --help": [*moss, "--help"],
        "startup: moss state list (2 states)": [*moss, "-D", str(root), "state", "list"],
        "startup: moss info NAME (installed)": [*moss, "-D", str(root), "info", "hello"],
    }
    script = Path(sys.prefix) / "bin" / "moss"
    if script.is_file():
        out["startup: .venv/bin/moss --version (entry point)"] = [str(script), "--version"]
    return out


def spread(times: list[float], base_times: list[float]) -> str:
    """The middle half of the per-round ratios (each run against the baseline's run of
    the same round): how much the machine's load moved the figure."""
    ratios = sorted(t / b for t, b in zip(times, base_times, strict=True))
    if len(ratios) < 4:
        return ""
    low, _, high = statistics.quantiles(ratios, n=4)
    return f"rounds: middle half {low:.2f}-{high:.2f}"


def measure(rounds: int) -> list[Result]:
    """Median of ``rounds`` interleaved runs of every command, as ratio rows."""
    with workdir("startup") as work:
        env = _env(work / "pycache")
        root = small_root(work, env)
        argvs = commands(root)
        times: dict[str, list[float]] = {name: [] for name in argvs}
        for argv in argvs.values():
            _run(argv, env)  # write the .pyc files and warm the page cache, untimed
        for _ in range(rounds):
            for name, argv in argvs.items():
                times[name].append(_run(argv, env))
    base_times = times.pop(BASELINE)
    base = statistics.median(base_times)
    rows = [Result(name, statistics.median(t), base, BASELINE, note=spread(t, base_times))
            for name, t in times.items()]
    if not any("entry point" in r.name for r in rows):
        rows.append(Result("startup: .venv/bin/moss --version (entry point)", None, None,
                           BASELINE, note="not measured: this Python has no bin/moss script"))
    return rows


def run(quick: bool) -> list[Result]:
    return measure(7 if quick else 21)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=21, help="runs of each command")
    parser.add_argument("--quick", action="store_true", help="7 rounds")
    args = parser.parse_args()
    print_results(measure(7 if args.quick else args.rounds))


if __name__ == "__main__":
    main()
