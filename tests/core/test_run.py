"""The one subprocess helper: a failure is one line naming the command, status and why."""

from __future__ import annotations

import sys

import pytest

from moss.core.run import CommandError, run


def test_output_is_captured() -> None:
    assert run([sys.executable, "-c", "print('hello')"]).stdout == "hello\n"


def test_failure_names_command_status_and_last_stderr_line() -> None:
    script = "import sys; print('noise'); sys.stderr.write('first\\nthe reason\\n'); sys.exit(3)"
    with pytest.raises(CommandError) as err:
        run([sys.executable, "-c", script], name="the tool")
    assert str(err.value) == "the tool failed (3): the reason"
    assert (err.value.status, err.value.last_line) == (3, "the reason")


def test_failure_without_stderr_falls_back_to_stdout() -> None:
    with pytest.raises(CommandError, match=r"failed \(1\): only stdout$"):
        run([sys.executable, "-c", "print('only stdout'); raise SystemExit(1)"])


def test_default_name_is_the_argv() -> None:
    with pytest.raises(CommandError, match=r"^false failed \(1\)$"):
        run(["false"])


def test_a_missing_program_is_one_line() -> None:
    with pytest.raises(CommandError, match="no-such-moss-tool is not installed") as err:
        run(["no-such-moss-tool", "--x"])
    assert err.value.status is None
    with pytest.raises(CommandError, match=r"^install it$"):
        run(["no-such-moss-tool"], missing="install it")


def test_arguments_never_reach_a_shell() -> None:
    out = run(["echo", "$HOME; rm -rf /", "`id`"]).stdout
    assert out == "$HOME; rm -rf / `id`\n"
