"""``moss state verify`` says the same thing with and without ``--repair``, and only reads.

A tester saw 2 problems without ``--repair`` and 4 with it: the repair of a damaged
store blob ran before the trees were checked, so the tree files that shared the
damaged blob were seen (or not) depending on the flag.  Here the damage is generated:
each example breaks a fresh copy of one root in a few ways, then both runs must list
the same problems, the repair must leave nothing to find, and a plain verify must run
on a read-only filesystem with the same report.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moss.cli import main
from tests.support.packages import make_package

FILES = {f"share/demo/f{i}": f"file {i}\n" for i in range(6)}
FILES["bin/demo"] = "#!/bin/sh\necho demo\n"


def blob_of(root: Path, rel: str) -> Path:
    """The store blob behind ``usr/rel`` (its hard link)."""
    inode = (root / "usr" / rel).stat().st_ino
    for dirpath, _dirs, names in os.walk(root / ".moss/assets/v2"):
        for name in names:
            if os.stat(Path(dirpath, name)).st_ino == inode:
                return Path(dirpath, name)
    raise AssertionError(f"no blob for {rel}")


def write_through(root: Path, rel: str) -> None:
    with open(root / "usr" / rel, "r+b") as f:
        f.write(b"X")


def flip_blob(root: Path, rel: str) -> None:
    blob = blob_of(root, rel)
    data = bytearray(blob.read_bytes())
    data[0] ^= 1
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))


def delete_blob(root: Path, rel: str) -> None:
    blob_of(root, rel).unlink()


def delete_file(root: Path, rel: str) -> None:
    (root / "usr" / rel).unlink()


def chmod_file(root: Path, rel: str) -> None:
    (root / "usr" / rel).chmod(0o600)


def replace_file(root: Path, rel: str) -> None:
    path = root / "usr" / rel
    path.unlink()
    path.write_text("someone else's\n")


DAMAGES: dict[str, Callable[[Path, str], None]] = {
    "write-through": write_through, "flip-blob": flip_blob, "delete-blob": delete_blob,
    "delete-file": delete_file, "chmod-file": chmod_file, "replace-file": replace_file,
}


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("verify")
    root = work / "root"
    assert main(["-D", str(root), "-y", "--quiet", "install",
                 str(make_package(work, "demo", FILES))]) == 0
    return root


def copy_root(template: Path, dest: Path) -> Path:
    """A copy that keeps the tree's hard links into the store (``cp -a``)."""
    shutil.rmtree(dest, ignore_errors=True)
    subprocess.run(["cp", "-a", str(template), str(dest)], check=True)
    return dest


def verify_json(root: Path, *flags: str) -> tuple[int, dict[str, object]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main(["-D", str(root), "--quiet", "state", "verify", "--json", *flags])
    return status, json.loads(out.getvalue())


@settings(max_examples=10, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(DAMAGES)), st.sampled_from(sorted(FILES))),
                min_size=1, max_size=3, unique_by=lambda d: d[1]))
def test_verify_reports_the_same_problems_with_and_without_repair(
        template: Path, tmp_path_factory: pytest.TempPathFactory,
        damages: list[tuple[str, str]]) -> None:
    work = tmp_path_factory.mktemp("damaged")
    root = copy_root(template, work / "root")
    for damage, rel in damages:
        DAMAGES[damage](root, rel)
    found_status, found = verify_json(root)
    assert found_status == 1 and found["problems"], found
    second_status, second = verify_json(root)
    assert (second_status, second) == (found_status, found), "a plain verify changed something"
    repaired_status, repaired = verify_json(root, "--repair")
    assert repaired["problems"] == found["problems"]
    assert repaired_status == 0 and repaired["unrepaired"] == [], repaired
    assert verify_json(root) == (0, {**found, "problems": [], "repaired": [], "unrepaired": []})
    for rel, content in FILES.items():
        assert (root / "usr" / rel).read_text() == content


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "--quiet", *args],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


def test_one_problem_is_singular_and_repair_is_suggested(template: Path, tmp_path: Path) -> None:
    root = copy_root(template, tmp_path / "root")
    delete_file(root, "bin/demo")
    proc = moss(root, "state", "verify")
    assert proc.returncode == 1
    assert proc.stdout.splitlines()[-2:] == [
        "Checked 7 assets and 7 files: 1 problem.",
        "`moss state verify --repair` repairs it from the cached packages."]
    write_through(root, "share/demo/f1")
    lines = moss(root, "state", "verify").stdout.splitlines()
    assert lines[-2:] == ["Checked 7 assets and 7 files: 3 problems.",
                          "`moss state verify --repair` repairs them from the cached packages."]
    repaired = moss(root, "state", "verify", "--repair")
    assert repaired.returncode == 0
    assert repaired.stdout.splitlines()[-1] == (
        "Checked 7 assets and 7 files: 3 problems, 3 repaired.")


def db_bytes(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted((root / ".moss").rglob("*")) if p.is_file()}


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare for a private read-only filesystem")
@pytest.mark.parametrize("how", ["ro-filesystem", "ro-bind"])
def test_verify_runs_on_a_read_only_root(template: Path, tmp_path: Path, how: str) -> None:
    """The same report as on the writable root; ``--repair`` is refused in one line."""
    root = copy_root(template, tmp_path / "root")
    write_through(root, "share/demo/f2")
    expected = moss(root, "state", "verify")
    assert expected.returncode == 1
    before = db_bytes(root)
    mount = tmp_path / "ro"
    mount.mkdir()
    if how == "ro-filesystem":  # the filesystem itself is read-only: no remount helps
        prepare = ('mount -t tmpfs tmpfs "$M" && cp -a "$R" "$M/root" && '
                   'mount -o remount,ro "$M" && R="$M/root"')
    else:  # a read-only bind mount, as a booted read-only OS has
        prepare = 'mount --bind "$R" "$R" && mount -o remount,bind,ro "$R"'
    script = (f'set -e; {prepare}; cd /; "$PY" -m moss -D "$R" --quiet state verify '
              '| sed "s#$R#ROOT#"')
    if how == "ro-filesystem":  # and --repair, which must write, says why it cannot
        script += '; "$PY" -m moss -D "$R" -y --quiet state verify --repair 2>&1 || true'
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "bash", "-c", script],
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
                          env={**os.environ, "PY": sys.executable, "R": str(root),
                               "M": str(mount)})
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    shown = proc.stdout.splitlines()
    report = expected.stdout.replace(str(root), "ROOT").splitlines()
    assert shown[:len(report)] == report, proc.stdout + proc.stderr
    if how == "ro-filesystem":
        assert len(shown) == len(report) + 1, proc.stdout
        assert shown[-1].startswith("moss: error: ") and "read-only" in shown[-1], shown[-1]
    assert db_bytes(root) == before
