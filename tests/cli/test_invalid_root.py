"""A misspelt `-D`: commands that read or change what moss installed say the root is
invalid (exit 1, as real moss), and a failed install into it creates nothing: `.moss`
and `etc` appear only when a transaction succeeds (issue 25 item 7)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.packages import make_package
from tests.support.sysroot import snapshot

ON_STATES = [
    ["list", "installed"], ["li"], ["la"], ["list", "sync"], ["info", "hello"],
    ["search", "hel"], ["search-file", "bin/hello"], ["state", "list"], ["state", "active"],
    ["state", "activate", "1"], ["state", "prune"], ["state", "verify"], ["remove", "hello"],
    ["sync"], ["up"], ["cache", "prune"], ["boot", "status"],
]


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", *args],
                          capture_output=True, text=True, timeout=120, check=False)


def refused(proc: subprocess.CompletedProcess[str]) -> bool:
    lines = proc.stderr.strip().splitlines()
    return (proc.returncode == 1 and len(lines) == 1 and "invalid root" in lines[0]
            and "check -D" in lines[0] and proc.stdout == "")


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(command=st.sampled_from(ON_STATES),
       contents=st.sampled_from([None, {}, {"etc/hostname": "x"}, {"usr/bin/ls": "ls"}]))
def test_commands_on_states_refuse_a_root_moss_never_used(
        tmp_path_factory: pytest.TempPathFactory, command: list[str],
        contents: dict[str, str] | None) -> None:
    root = tmp_path_factory.mktemp("misspelt") / "root"
    if contents is not None:
        root.mkdir()
        for rel, text in contents.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_text(text)
    before = snapshot(root) if root.exists() else None
    proc = moss(root, *command)
    assert refused(proc), (command, proc.returncode, proc.stdout, proc.stderr)
    assert (snapshot(root) if root.exists() else None) == before


@pytest.mark.parametrize("command", [["repo", "list"], ["lr"], ["repo", "update"],
                                     ["repo", "remove", "main"], ["repo", "disable", "main"]])
def test_repository_commands_refuse_a_root_that_does_not_exist(tmp_path: Path,
                                                               command: list[str]) -> None:
    proc = moss(tmp_path / "misspelt", *command)
    assert refused(proc), proc.stderr
    assert not (tmp_path / "misspelt").exists()


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_install_into_a_new_root_creates_nothing(tmp_path: Path,
                                                          existing: bool) -> None:
    root = tmp_path / "root"
    if existing:
        root.mkdir()
        (root / "keep").write_text("mine")
    before = snapshot(root) if existing else None
    broken = make_package(tmp_path, "hello", {"bin/hello": "hello\n"},
                          depends=("libgreet",))
    for args in (["install", str(broken)], ["install", "--dry-run", str(broken)],
                 ["install", "hello"], ["sync", "--import", str(tmp_path / "none.kdl")]):
        proc = moss(root, *args)
        assert proc.returncode == 1, (args, proc.stderr)
        assert (snapshot(root) if root.exists() else None) == before, args
    # A transaction that succeeds leaves the root it made, and the root is valid then.
    good = make_package(tmp_path, "tool", {"bin/tool": "tool\n"})
    assert moss(root, "install", str(good)).returncode == 0
    assert (root / ".moss").is_dir() and (root / "etc").is_dir()
    assert "tool" in moss(root, "li").stdout
