"""Fixtures shared by the fast tests."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
DATA = PROJECT / "tests" / "data"
# Real packages built by real moss's boulder, and real moss's schemas: copied into the
# repository (both small) so that a fresh clone runs every test that uses them.
STONE_TESTDATA = DATA / "stone"
REALMOSS_SCHEMAS = DATA / "realmoss"


@pytest.fixture
def stone_testdata() -> Path:
    """The real packages in ``tests/data/stone`` (see its SHA256SUMS)."""
    return STONE_TESTDATA
