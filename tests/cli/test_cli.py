"""The CLI frame: help, usage errors and exit codes that scripts can trust."""

from __future__ import annotations

import subprocess
import sys

import pytest

from moss.cli import main


def test_help_lists_global_flags(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for flag in ("--directory", "--yes-all", "--verbose", "--quiet", "--cache"):
        assert flag in out


def test_unknown_command_is_usage_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "moss", "no-such-command"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unknown command 'no-such-command'" in proc.stderr
