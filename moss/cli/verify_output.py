"""What ``moss state verify`` prints: each problem, what was repaired or not, and a summary
with plurals that fit (``1 problem``) and the next step (``--repair``)."""

from __future__ import annotations

import argparse

from moss.cli.output import print_json, progress_for
from moss.core.progress import size_text


def verify_command(args: argparse.Namespace) -> int:
    """``moss state verify [--repair] [--json]``: the report, the same with and without
    ``--repair``, and a status of 1 while problems remain."""
    from moss.states import verify

    report = verify.verify(args.directory, repair=args.repair, progress=progress_for(args.quiet))
    if args.json:
        print_json({
            "assets": report.assets, "files": report.files,
            "problems": [p.to_json() for p in report.problems], "repaired": report.repaired,
            "unrepaired": [p.to_json() for p in report.unrepaired],
            "orphans": report.orphans, "orphan_bytes": report.orphan_bytes,
        })
    else:
        for problem in report.problems:
            print(f"{problem.path}: {problem.what}")
        for fixed in report.repaired:
            print(f"repaired {fixed}")
        for left in report.unrepaired:
            print(f"cannot repair {left.path}: {left.what}")
        if report.orphans:
            print(f"{_count(len(report.orphans), 'orphaned blob')} in the store "
                  f"({size_text(report.orphan_bytes)}) belong to no package (an "
                  "interrupted install left them): `moss cache prune` deletes them.")
        summary = (f"Checked {_count(report.assets, 'asset')} and "
                   f"{_count(report.files, 'file')}: {_count(len(report.problems), 'problem')}")
        if args.repair:
            summary += f", {len(report.repaired)} repaired"
        print(summary + ".")
        if report.problems and not args.repair:
            them = "it" if len(report.problems) == 1 else "them"
            print(f"`moss state verify --repair` repairs {them} from the cached packages.")
    if args.repair:
        return 1 if report.unrepaired else 0
    return 1 if report.problems else 0


def _count(n: int, noun: str) -> str:
    """``1 problem``, ``2 problems``, ``0 problems``."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
