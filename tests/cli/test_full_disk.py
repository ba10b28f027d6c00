"""A full disk for real: the root on a small tmpfs that an install does not fit.

The tmpfs is mounted in a private mount namespace (``unshare -m``), so nothing
leaks to the host; everything that looks at it runs in there too, in a driver
that reports what it saw as JSON.  moss must fail in one line naming the full
filesystem, and leave the old state whole and active.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.packages import make_package

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare to mount a tmpfs in a private namespace",
)

DRIVER = r"""
import json, os, subprocess, sys
from pathlib import Path
from tests.support.packages import tree_snapshot

mnt, small, big, many, extra = map(Path, sys.argv[1:6])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)], check=True)
root = mnt / "root"

def moss(*args):
    proc = subprocess.run([sys.executable, "-m", "moss", "-y", "--quiet", "-D", str(root),
                           *map(str, args)], capture_output=True, text=True)
    return {"status": proc.returncode, "stderr": proc.stderr}

def state():
    return (tree_snapshot(root / "usr"), sorted(os.listdir(root / ".moss/root")),
            (root / "usr/.stateID").read_text())

facts = {"first": moss("install", small)}
before = state()
facts["big"] = moss("install", big)
facts["big_kept_state"] = state() == before
facts["big_verify"] = moss("state", "verify")
with open(mnt / "filler", "wb") as filler:  # now not even the databases can grow
    try:
        while True:
            filler.write(b"\0" * 65536)
    except OSError:
        pass
facts["filled"] = moss("install", many)
facts["filled_kept_state"] = state() == before
os.unlink(mnt / "filler")
facts["after_freeing"] = moss("install", extra)
facts["after_verify"] = moss("state", "verify")
print(json.dumps(facts))
"""


def test_an_install_that_does_not_fit(tmp_path: Path) -> None:
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    small = make_package(tmp_path, "small", {"bin/small": "small\n"})
    big = make_package(tmp_path, "big", {"share/big/blob": os.urandom(6 << 20)})
    many = make_package(tmp_path, "many", {f"share/many/f{i}": f"{i}\n" for i in range(300)})
    extra = make_package(tmp_path, "extra", {"bin/extra": "extra\n"})
    proc = subprocess.run(
        ["unshare", "-m", "--propagation", "private", "--",
         sys.executable, "-c", DRIVER, str(mnt), str(small), str(big), str(many), str(extra)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.returncode == 0, proc.stderr
    facts = json.loads(proc.stdout)
    assert facts["first"]["status"] == 0, facts["first"]
    for case in ("big", "filled"):
        result = facts[case]
        assert result["status"] == 1, (case, result)
        assert "Traceback" not in result["stderr"] and "Error" not in result["stderr"], result
        lines = result["stderr"].splitlines()
        assert len(lines) == 1, (case, result)
        assert lines[0].startswith("moss: error: no space left on the filesystem at "
                                   f"{mnt}: "), (case, lines)
        assert "moss state prune" in lines[0], lines
        assert facts[f"{case}_kept_state"], case
    assert facts["big_verify"]["status"] == 0, facts["big_verify"]
    assert facts["after_freeing"]["status"] == 0, facts["after_freeing"]
    assert facts["after_verify"]["status"] == 0, facts["after_verify"]
