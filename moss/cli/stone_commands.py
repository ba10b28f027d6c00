"""Commands that work on .stone files: inspect, extract, pack, index."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Filled in by the stone-format work (issue 2)."""
