"""Man pages and shell completions, generated from the argparse parser (real moss's
``--generate-manpages DIR`` and ``--generate-completions DIR``)."""

from __future__ import annotations

import argparse
from pathlib import Path


def write_manpages(parser: argparse.ArgumentParser, directory: Path) -> list[Path]:
    raise NotImplementedError


def write_completions(parser: argparse.ArgumentParser, directory: Path) -> list[Path]:
    raise NotImplementedError
