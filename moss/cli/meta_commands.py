"""``moss version [-f/--full]``: real moss's version command."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from moss import __version__


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "version", help="print moss's version and exit",
        description="Print moss's version; with --full also where moss runs from and on "
        "which Python, for a bug report.",
        epilog="example: moss version --full")
    p.add_argument("-f", "--full", action="store_true",
                   help="also print where moss runs from and on which Python")
    p.set_defaults(handler=_version)


def _version(args: argparse.Namespace) -> int:
    print(f"moss {__version__}")
    if args.full:
        import platform

        print(f"python {platform.python_version()} ({sys.executable})")
        print(f"from {Path(__file__).resolve().parents[1]}")
    return 0
