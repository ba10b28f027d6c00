"""``python -m bench [--quick] [--json FILE] [--only NAME...]``: every benchmark, one table.

Each module measures moss and its baselines side by side in the same run and
returns rows; this prints them together (and writes them as JSON).  A benchmark
that fails is reported on stderr, the others still run, and the exit status is 1.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import (
    activation,
    blit,
    boot_sync,
    dedup,
    dracut_bytes,
    fleet,
    growth,
    install,
    pivot_time,
    prune,
    qemu_share,
    reflink,
    repo_query,
    resolve,
    startup,
    stone_memory,
    subscriptions,
)
from bench.common import Result, print_results

BENCHMARKS: dict[str, Callable[[bool], list[Result]]] = {
    "blit": blit.run,
    "reflink": reflink.run,
    "install": install.run,
    "growth": growth.run,
    "activation": activation.run,
    "dedup": dedup.run,
    "resolve": resolve.run,
    "repo_query": repo_query.run,
    "prune": prune.run,
    "boot_sync": boot_sync.run,
    "pivot": pivot_time.run,
    "dracut": dracut_bytes.run,
    "qemu": qemu_share.run,  # opt-in: --qemu
    "memory": stone_memory.run,
    "startup": startup.run,
    "subscriptions": subscriptions.run,
    "fleet": fleet.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the rows here")
    parser.add_argument("--qemu", action="store_true",
                        help="also boot once under QEMU for the agent's share (~30 s)")
    parser.add_argument("--only", nargs="+", choices=sorted(BENCHMARKS), metavar="NAME",
                        help=f"run only these ({', '.join(BENCHMARKS)})")
    args = parser.parse_args(argv)
    results: list[Result] = []
    failed: list[str] = []
    started = time.perf_counter()
    for name, run in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        if name == "qemu" and not args.qemu:
            results.append(qemu_share.placeholder())
            continue
        t0 = time.perf_counter()
        try:
            rows = run(args.quick)
        except Exception:  # one broken benchmark must not hide the others' figures
            failed.append(name)
            print(f"bench {name} failed:\n{traceback.format_exc()}", file=sys.stderr)
            continue
        results.extend(rows)
        print(f"[{name}: {time.perf_counter() - t0:.1f} s]", file=sys.stderr, flush=True)
    total = time.perf_counter() - started
    print_results(results)
    print(f"\n{len(results)} rows in {total:.0f} s ({'quick' if args.quick else 'full'} sizes); "
          "ratio = moss / baseline, lower is better", flush=True)
    if args.json:
        args.json.write_text(json.dumps({
            "quick": args.quick, "seconds": total, "machine": platform.node(),
            "python": platform.python_version(), "failed": failed,
            "results": [r.to_json() for r in results],
        }, indent=2) + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
