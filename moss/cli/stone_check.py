"""``moss inspect --check [-q]``: real moss's integrity report, file by file."""

from __future__ import annotations

import sys
from pathlib import Path

from moss.stone import StoneError
from moss.stonetools.check import check_stone


def check_all(files: list[Path], quiet: bool) -> int:
    """Real moss's ``inspect --check``: a report per file, status 1 if any is damaged."""
    failed = []
    for path in files:
        if not quiet:
            print(f"Checking: {path}")
        try:
            kinds = check_stone(path)
        except (StoneError, OSError) as exc:
            failed.append(path)
            if not quiet:
                print(f"Result: FAILED - {exc}\n")
            continue
        if not quiet:
            for kind in kinds:
                print(f"  OK: {kind}")
            print("Result: OK\n")
    if failed:
        if not quiet:
            print(f"moss: error: {len(failed)} of {len(files)} files failed the check",
                  file=sys.stderr)
        return 1
    return 0
