"""What every benchmark shares: timing by median, and a result row with its ratio."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One figure: moss's measurement against a baseline measured in the same run."""

    name: str
    value: float
    baseline: float
    baseline_name: str
    unit: str = "s"

    @property
    def ratio(self) -> float:
        return self.value / self.baseline if self.baseline else float("inf")

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "value": self.value, "baseline": self.baseline,
                "baseline_name": self.baseline_name, "unit": self.unit, "ratio": self.ratio}


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


def print_results(results: list[Result]) -> None:
    print(f"{'benchmark':<44} {'moss':>10} {'baseline':>10}  {'ratio':>6}  baseline")
    for r in results:
        print(f"{r.name:<44} {r.value:>9.4g}{r.unit} {r.baseline:>9.4g}{r.unit}  "
              f"{r.ratio:>6.2f}  {r.baseline_name}")
