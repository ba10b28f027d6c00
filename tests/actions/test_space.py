"""A transaction that would not fit is refused before it writes, with the figures.

Each root lives on a small tmpfs mounted in a private mount namespace (``unshare
-m``), so nothing is left mounted whatever happens; the packages lie outside it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.packages import make_package

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="needs root and unshare (util-linux) to mount a small tmpfs",
)


def moss_on_tmpfs(root: Path, mount_options: str, *argsets: list[str]) -> list[
        subprocess.CompletedProcess[str]]:
    """Run each moss command line in turn on ``root``, a fresh tmpfs, in one namespace.

    Outputs are separated by a marker line so each command's result can be read.
    """
    root.mkdir(exist_ok=True)
    project = str(Path(__file__).resolve().parents[2])
    steps = [f"mount -t tmpfs -o {mount_options} moss-test {shlex.quote(str(root))}"]
    for args in argsets:
        cmd = shlex.join([sys.executable, "-m", "moss", "-D", str(root), "-y", *args])
        steps.append(f"{cmd}; echo \"@@rc=$?\"; echo @@ >&2; "
                     f"find {shlex.quote(str(root))}/usr -printf '%P\\n' | sort | "
                     "sed 's/^/@@usr:/'")
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                           " && ".join(steps[:1]) + " && { " + "; ".join(steps[1:]) + "; }"],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": project})
    assert proc.returncode == 0, proc.stderr
    outs, errs = proc.stdout.split("@@rc=")[1:], proc.stderr.split("@@\n")
    results = []
    for out, err in zip(outs, errs, strict=False):
        rc = int(out.split("\n", 1)[0])
        results.append(subprocess.CompletedProcess([], rc, out, err))
    return results


def test_too_big_for_the_disk_is_refused_with_the_figures(tmp_path: Path) -> None:
    small = make_package(tmp_path, "small", {"share/small/a": "a"})
    big = make_package(tmp_path, "big", {"share/big/blob": os.urandom(24 << 20)})
    first, second = moss_on_tmpfs(
        tmp_path / "root", "size=20m", ["install", str(small)], ["install", str(big)]
    )
    assert first.returncode == 0, first.stderr
    assert second.returncode == 1
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert lines[0].startswith("moss: error: no space left on the filesystem at ")
    assert "this needs" in lines[0] and "MiB are free" in lines[0]
    assert "moss state prune" in lines[0]
    assert "@@usr:share/small/a" in second.stdout and "big" not in second.stdout


def test_too_many_files_for_the_inodes_is_refused(tmp_path: Path) -> None:
    many = make_package(tmp_path, "many", {f"share/many/{i}": str(i) for i in range(300)})
    (result,) = moss_on_tmpfs(tmp_path / "root", "size=64m,nr_inodes=200", ["install", str(many)])
    assert result.returncode == 1
    assert "no free inodes left on the filesystem at " in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr


def test_what_fits_is_installed(tmp_path: Path) -> None:
    """The check is no false alarm: a package that fits goes in on the same small disk."""
    fits = make_package(tmp_path, "fits", {"share/fits/blob": os.urandom(4 << 20)})
    (result,) = moss_on_tmpfs(tmp_path / "root", "size=20m", ["install", str(fits)])
    assert result.returncode == 0, result.stderr
    assert "@@usr:share/fits/blob" in result.stdout
