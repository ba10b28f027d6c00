"""SIGKILL at random instants, not only at the named points of test_faults.

A named kill point only proves the steps someone thought of; a kill between two
of them (half-way through deleting blobs, say) is what a power cut delivers.
Each mutating command is first timed once, then killed after delays drawn
uniformly over that duration.  After each kill, ``/usr`` must be the old or the
new state's tree, ``state verify`` must be clean, and the next transaction must
succeed.  The seed is printed and named in every failure: set
``MOSS_KILL_SEED`` to replay a run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from moss.cli import main
from tests.support.packages import Snapshot, make_package, tree_snapshot

SEED = int(os.environ.get("MOSS_KILL_SEED", str(time.time_ns() % 1_000_000)))
INSTANTS = int(os.environ.get("MOSS_KILL_INSTANTS", "10"))
FILES = 200  # per release, each with its own content
FIRST_FILES = 2000  # release 1's: state 1 is what prune and remove collect


def moss(root: Path, *args: str) -> int:
    return main(["-D", str(root), "-y", "--quiet", *args])


def release(workdir: Path, r: int) -> Path:
    count = FIRST_FILES if r == 1 else FILES
    files = {f"share/hello/f{i}": f"release {r} file {i}\n" for i in range(count)}
    return make_package(workdir, "hello", {"bin/hello": f"release {r}\n", **files}, release=r)


def tree(usr: Path) -> Snapshot:
    """The tree without its ``.stateID``: the same release may get another state number."""
    snap = tree_snapshot(usr)
    snap.pop(".stateID", None)
    return snap


def start(root: Path, args: tuple[str, ...]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet",
                             *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def copy_root(template: Path, dest: Path) -> Path:
    """``cp -a`` keeps the hard links between the store and the trees."""
    subprocess.run(["cp", "-a", str(template), str(dest)], check=True)
    return dest


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """A root with states 1 (release 1) and 2 (release 2), and the trees each command makes."""
    work = tmp_path_factory.mktemp("random-kills")
    pkgs = [release(work, r) for r in (1, 2, 3)]
    other = make_package(work, "other", {"bin/other": "other\n"})
    template = work / "template"
    assert moss(template, "install", str(pkgs[0])) == 0
    v1 = tree(template / "usr")
    assert moss(template, "install", str(pkgs[1])) == 0
    v2 = tree(template / "usr")
    snaps = {"v1": v1, "v2": v2}
    ref = copy_root(template, work / "ref")
    assert moss(ref, "install", str(pkgs[2])) == 0
    snaps["v3"] = tree(ref / "usr")
    assert moss(ref, "remove", "hello") == 0
    snaps["removed"] = tree(ref / "usr")
    print(f"random kills: MOSS_KILL_SEED={SEED}")
    return {"work": work, "template": template, "pkgs": pkgs, "other": other, "snaps": snaps}


COMMANDS = {
    "install": (("install", "{pkg3}"), ("v2", "v3")),
    "remove": (("remove", "hello"), ("v2", "removed")),
    "activate": (("state", "activate", "1"), ("v2", "v1")),
    "prune": (("state", "prune", "--keep", "1"), ("v2",)),
    "state-remove": (("state", "remove", "1"), ("v2",)),
}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_killed_at_random_instants(command: str, world: dict[str, object]) -> None:
    work, template = Path(str(world["work"])), Path(str(world["template"]))
    pkgs: list[Path] = world["pkgs"]  # type: ignore[assignment]
    snaps: dict[str, Snapshot] = world["snaps"]  # type: ignore[assignment]
    template_args, outcomes = COMMANDS[command]
    args = tuple(a.replace("{pkg3}", str(pkgs[2])) for a in template_args)
    allowed = [snaps[o] for o in outcomes]
    began = time.monotonic()
    assert subprocess.run([sys.executable, "-m", "moss", "--version"],
                          capture_output=True).returncode == 0
    startup = time.monotonic() - began  # no instant before moss runs: nothing to learn there
    timed = copy_root(template, work / f"{command}-timed")
    began = time.monotonic()
    assert start(timed, args).wait(timeout=60) == 0
    duration = time.monotonic() - began
    rng = random.Random(f"{SEED}-{command}")
    for n in range(INSTANTS):
        delay = rng.uniform(min(startup, duration), duration)
        what = f"{command} killed after {delay:.3f}s of {duration:.3f}s (MOSS_KILL_SEED={SEED})"
        root = copy_root(template, work / f"{command}-{n}")
        proc = start(root, args)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        assert tree(root / "usr") in allowed, what
        assert moss(root, "state", "verify") == 0, what  # the next run recovers first
        assert moss(root, "install", str(world["other"])) == 0, what
        assert (root / "usr/bin/other").read_text() == "other\n", what
        subprocess.run(["rm", "-rf", str(root)], check=True)
