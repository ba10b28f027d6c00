"""moss on a read-only OS: it changes the root through its own mount namespace.

Each scenario runs in ``unshare -m --propagation private sh`` (so the test
process's mounts stay clean): the root is bind-mounted read-only onto itself, as
the initramfs leaves ``/`` on a booted read-only system, and moss runs through
its CLI on it.  What a user would check: the command works, ``/usr`` still
refuses writes afterwards, and moss left no mount behind in the shell's namespace
(``/proc/self/mountinfo`` before and after), even when it was killed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from moss.core.faults import ENV
from tests.conftest import STONE_TESTDATA
from tests.support.packages import make_package

STONES = STONE_TESTDATA
PINEAPPLE = STONES / "pineapple-1-1-1-x86_64.stone"
BASH_COMPLETION = STONES / "bash-completion-2.11-1-1-x86_64.stone"
PROJECT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare",
)

PRELUDE = """
set -e
moss() { "$PY" -m moss -D "$R" -y "$@"; }
say() { echo "$1=$2"; }
probe() {
    if err=$(touch "$1" 2>&1); then echo rw; rm -f "$1"
    else case "$err" in *"Read-only file system"*) echo ro;; *) echo "? $err";; esac; fi
}
read_only_bind() { mount --bind "$R" "$R"; mount -o remount,bind,ro "$R"; }
"""


def scenario(tmp_path: Path, script: str, **env: str) -> dict[str, str]:
    """Run ``script`` in a private mount namespace; its ``KEY=VALUE`` lines."""
    root = tmp_path / "root"
    root.mkdir(exist_ok=True)
    full_env = {"PATH": os.environ["PATH"], "PY": sys.executable, "R": str(root),
                "PYTHONPATH": str(PROJECT), **env}
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           PRELUDE + script], env=full_env, capture_output=True, text=True,
                          timeout=300, cwd=PROJECT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def test_install_on_a_read_only_root_goes_through_and_leaves_it_read_only(
    tmp_path: Path,
) -> None:
    seen = scenario(tmp_path, f"""
moss install {PINEAPPLE} > /dev/null
read_only_bind
say before "$(probe $R/usr/x)"
cat /proc/self/mountinfo > $R/../mounts-before
moss install {BASH_COMPLETION} > /dev/null
say status $?
cat /proc/self/mountinfo > $R/../mounts-after
say after "$(probe $R/usr/x)"
say rm "$(rm $R/usr/.stateID 2>&1)"
say state "$(cat $R/usr/.stateID)"
say mounts-same "$(cmp -s $R/../mounts-before $R/../mounts-after && echo yes)"
""")

    assert seen["before"] == "ro"
    assert seen["status"] == "0"
    assert seen["state"] == "2"
    assert seen["after"] == "ro"
    assert "Read-only file system" in seen["rm"]
    assert seen["mounts-same"] == "yes"
    assert (tmp_path / "root/usr/share/bash-completion").is_dir()


def test_a_killed_moss_leaves_nothing_mounted_and_the_next_run_finishes(tmp_path: Path) -> None:
    seen = scenario(tmp_path, f"""
moss install {PINEAPPLE} > /dev/null
read_only_bind
cat /proc/self/mountinfo > $R/../mounts-before
set +e
{ENV}=activate:exchanged moss install {BASH_COMPLETION} > /dev/null 2>&1
say killed $?
set -e
cat /proc/self/mountinfo > $R/../mounts-after
say mounts-same "$(cmp -s $R/../mounts-before $R/../mounts-after && echo yes)"
say after "$(probe $R/usr/x)"
moss install {BASH_COMPLETION} > /dev/null
say state "$(cat $R/usr/.stateID)"
""")

    assert seen["killed"] == "137"  # SIGKILL
    assert seen["mounts-same"] == "yes"
    assert seen["after"] == "ro"
    assert seen["state"] in ("2", "3")  # the killed transaction's state, finished, or a new one


def test_a_truly_read_only_filesystem_is_one_line_and_status_1(tmp_path: Path) -> None:
    seen = scenario(tmp_path, f"""
mount -t tmpfs -o ro tmpfs $R
set +e
moss install {PINEAPPLE} > $R/../out 2> $R/../err
say status $?
say lines "$(wc -l < $R/../err)"
say err "$(cat $R/../err)"
say left "$(ls -A $R | wc -l)"
""")

    assert seen["status"] == "1"
    assert seen["lines"] == "1"
    assert seen["err"].startswith(f"moss: error: {tmp_path / 'root'} is on a read-only filesystem")
    assert seen["left"] == "0"


def test_usr_local_follows_the_live_tree_and_nothing_stays_mounted_in_old_trees(
    tmp_path: Path,
) -> None:
    # a package with an empty usr/local, as the trees of a read-only OS have it
    local = make_package(tmp_path, "localdir", {"local": None, "share/localdir/x": "x"})
    seen = scenario(tmp_path, f"""
moss install {local} > /dev/null
mkdir -p $R/var/usrlocal
echo mine > $R/var/usrlocal/kept
# as the initramfs does it: the root bound, the store bound in it, then the root read-only
mount --bind $R $R
mount --bind $R/var/usrlocal $R/usr/local
mount -o remount,bind,ro $R
moss install {PINEAPPLE} > /dev/null 2> $R/../err
say err "$(cat $R/../err)"
say state "$(cat $R/usr/.stateID)"
say kept "$(cat $R/usr/local/kept)"
say local "$(probe $R/usr/local/new)"
say usr "$(probe $R/usr/x)"
say under-moss "$(grep -c " $R/.moss/" /proc/self/mountinfo || true)"
say old-tree "$(ls -A $R/.moss/root/1/usr/local)"
""")

    assert seen["err"] == ""
    assert seen["state"] == "2"
    assert seen["kept"] == "mine"  # the new tree's /usr/local is the store again
    assert seen["local"] == "rw"
    assert seen["usr"] == "ro"
    assert seen["under-moss"] == "0"  # the old tree's bind was detached
    assert seen["old-tree"] == ""  # and its own folder is empty, as packed
    assert (tmp_path / "root/var/usrlocal/kept").read_text() == "mine\n"
