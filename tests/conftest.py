"""Fixtures shared by the fast tests."""

from __future__ import annotations

from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parent.parent
SHARED = PROJECT.parent / "shared"
STONE_TESTDATA = SHARED / "testdata" / "stone"


@pytest.fixture
def stone_testdata() -> Path:
    """The real packages beside the project; absent in a user's fresh clone."""
    if not STONE_TESTDATA.is_dir():
        pytest.skip(f"real .stone test data not found at {STONE_TESTDATA} (../shared is absent)")
    return STONE_TESTDATA
