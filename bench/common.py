"""What every benchmark shares: timing by median, a result row with its ratio, a table.

Every figure is a ratio against a baseline measured in the same run on the same data:
the machines are shared and noisy, so absolute times from different runs do not
compare, but two measurements taken side by side do.  A figure that has several
baselines (a physical limit and a peer) is one row per baseline.
"""

from __future__ import annotations

import math
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: Where benchmarks build their trees: /tmp may be a small tmpfs.
WORK_DIR = Path("/var/tmp")


@dataclass(frozen=True)
class Result:
    """One figure: moss's measurement against a baseline measured in the same run.

    ``value`` is None for a figure this run could not measure (``note`` says why).
    ``unit`` is ``s`` for wall time or ``B`` for bytes (disk, memory).
    """

    name: str
    value: float | None
    baseline: float | None
    baseline_name: str
    unit: str = "s"
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline is None:
            return None
        return self.value / self.baseline if self.baseline else math.inf

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "baseline": self.baseline,
                "baseline_name": self.baseline_name, "unit": self.unit, "ratio": self.ratio,
                "note": self.note}


def median_time(run: Callable[[], object], repeats: int,
                setup: Callable[[], object] | None = None) -> float:
    """Median wall time of ``run`` over ``repeats`` runs, ``setup`` untimed before each."""
    times = []
    for _ in range(repeats):
        if setup is not None:
            setup()
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def command(argv: list[str], cwd: Path | None = None) -> str:
    """Runs a peer tool; its stderr becomes the error if it fails."""
    proc = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout


def disk_usage(path: Path) -> int:
    """Bytes of disk blocks under ``path``, each hard-linked inode counted once (``du``)."""
    return int(command(["du", "-s", "--block-size=1", str(path)]).split()[0])


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    """A scratch directory in /var/tmp, removed afterwards whatever happens."""
    path = Path(tempfile.mkdtemp(prefix=f"moss-bench-{prefix}-", dir=WORK_DIR))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _format(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "B":
        for scale, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
            if value >= scale:
                return f"{value / scale:.1f}{suffix}"
        return f"{value:.0f}B"
    if unit == "s":
        return f"{value * 1000:.1f}ms" if value < 1 else f"{value:.2f}s"
    return f"{value:.4g}{unit}"


def table(results: list[Result]) -> str:
    """The printed table: one row per (figure, baseline)."""
    width = max([len(r.name) for r in results] + [9])
    lines = [f"{'benchmark':<{width}}  {'moss':>9}  {'baseline':>9}  {'ratio':>7}  baseline"]
    for r in results:
        ratio = "-" if r.ratio is None else f"{r.ratio:.2f}" if r.ratio >= 0.1 else f"{r.ratio:.2g}"
        line = (f"{r.name:<{width}}  {_format(r.value, r.unit):>9}  "
                f"{_format(r.baseline, r.unit):>9}  {ratio:>7}  {r.baseline_name}")
        if r.note:
            line += f"  [{r.note}]"
        lines.append(line)
    return "\n".join(lines)


def print_results(results: list[Result]) -> None:
    print(table(results), flush=True)
