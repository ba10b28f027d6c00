"""The agent's read-only OS set-up on a fake sysroot (a tmpfs), each in a private namespace.

Every scenario runs ``unshare -m --propagation private sh``: the tmpfs, the binds
and the read-only remount the agent makes exist only in that child, so the test
process's mounts stay as they were.  What is checked is what a user would try:
``touch`` in each place, and what the agent leaves in ``/run``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from initrd import pivot_readonly
from moss.core import ondisk

PROJECT = Path(__file__).resolve().parents[2]
AGENT = PROJECT / "initrd" / "pivot.py"
PLACES = (".", "usr", "usr/bin", "etc", "var", "tmp", "opt", "root", "usr/local", "srv", "home",
          "usr/lib", "usr/share/moss", "usr/local/bin", ".moss/root/1/usr/bin")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("unshare") is None,
    reason="mount namespaces need root and unshare",
)

SCRIPT = """
set -e
S=$WORK/sysroot
mkdir -p $S
mount -t tmpfs tmpfs $S
cd $S
mkdir -p etc/moss var tmp opt root usr/bin usr/local/bin usr/local/share srv usr/lib \
    usr/share/moss .moss/root/1/usr/bin
echo old > usr/bin/tool
ln -s var/home home
[ "$CONF" = ABSENT ] || cp "$WORK/conf.in" etc/moss/readonly.conf
[ -n "$PLAIN_DIR" ] && { mkdir -p $S/inner; cp -a $S/etc $S/usr $S/var $S/inner/; S=$S/inner; }
cd /
"$PY" -I -S "$AGENT" --sysroot $S --cmdline "$CMDLINE" --run-dir $WORK/run/moss \\
    --kmsg $WORK/kmsg
for place in $PLACES; do
    if err=$(touch "$S/$place/probe" 2>&1); then echo "$place=rw"
    else case "$err" in *"Read-only file system"*) echo "$place=ro";; *) echo "$place=?$err";; esac
    fi
done
rm_err=$(rm $S/usr/bin/tool 2>&1) || echo "rm=$rm_err"
echo "local-store=$(ls $S/var/usrlocal 2>&1 | tr '\\n' ' ')"
echo "mounts=$(grep -c " $WORK/sysroot" /proc/self/mountinfo)"
"""


def agent(tmp_path: Path, conf: str | bytes, cmdline: str = "quiet", plain_dir: bool = False
          ) -> dict[str, str]:
    """Run the agent on a fresh fake sysroot; each place's ``rw``/``ro`` and the outcome.

    ``conf`` is the file's bytes (NUL included), or ``"ABSENT"`` for no file."""
    data = conf.encode() if isinstance(conf, str) else conf
    (tmp_path / "conf.in").write_bytes(data)
    env = {"PATH": os.environ["PATH"], "WORK": str(tmp_path),
           "CONF": "ABSENT" if conf == "ABSENT" else "file", "CMDLINE": cmdline,
           "PY": sys.executable, "AGENT": str(AGENT), "PLACES": " ".join(PLACES),
           "PLAIN_DIR": "1" if plain_dir else ""}
    proc = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", SCRIPT],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    values = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
    values["/"] = values.pop(".")
    return values


def kmsg(tmp_path: Path) -> str:
    return (tmp_path / "kmsg").read_text()


def test_enabled_makes_the_os_read_only_and_the_places_meant_to_change_writable(
    tmp_path: Path,
) -> None:
    seen = agent(tmp_path, "enabled = yes\n")

    for place in ("/", "usr", "usr/bin"):
        assert seen[place] == "ro", place
    assert "Read-only file system" in seen["rm"]
    for place in ("etc", "var", "tmp", "opt", "root", "srv", "usr/local"):
        assert seen[place] == "rw", place
    # /usr/local is the store in /var, created by the agent with the tree's folders in it
    assert seen["local-store"] == "bin probe share "
    # a writable place that is a symlink is not mounted over (its target is)
    assert "/home is not a directory in the root" in kmsg(tmp_path)
    marker = (tmp_path / "run/moss/readonly").read_text().split()
    assert marker == ["/etc", "/var", "/root", "/opt", "/srv", "/tmp", "/usr/local"]
    dropin = tmp_path / "run" / pivot_readonly.DROPIN_DIR / pivot_readonly.DROPIN_NAME
    assert "ExecStartPost=/usr/bin/mount -o remount,bind,ro /" in dropin.read_text()


def test_without_the_file_or_with_enabled_no_nothing_is_mounted(tmp_path: Path) -> None:
    for index, conf in enumerate(("ABSENT", "enabled = no\n# a comment\n")):
        work = tmp_path / str(index)
        work.mkdir()
        seen = agent(work, conf)

        assert all(seen[p] == "rw" for p in ("/", "usr", "usr/bin", "etc")), seen
        assert "rm" not in seen
        assert seen["mounts"] == "1"  # the tmpfs alone
        assert not (work / "run/moss/readonly").exists()
        assert not (work / "run/systemd").exists()


def test_bad_entries_are_skipped_and_logged_and_the_boot_goes_on(tmp_path: Path) -> None:
    conf = ("enabled = yes\nwritable = etc relative /usr /.moss/root /var/../usr / /srv /srv\n"
            "colour = blue\n")
    seen = agent(tmp_path, conf)

    assert seen["etc"] == "ro"  # "etc" is no absolute path: not in the list
    assert seen["usr"] == seen["usr/bin"] == seen["/"] == seen["var"] == "ro"
    assert seen["srv"] == "rw"
    assert (tmp_path / "run/moss/readonly").read_text() == "/srv\n"
    log = kmsg(tmp_path)
    for bad in ("'etc'", "'relative'", "'/usr'", "'/.moss/root'", "'/var/../usr'", "'/'",
                "'colour = blue'"):
        assert bad in log, bad


def test_the_kernel_command_line_overrides_the_file_for_one_boot(tmp_path: Path) -> None:
    (tmp_path / "off").mkdir()
    (tmp_path / "on").mkdir()
    off = agent(tmp_path / "off", "enabled = yes\n", cmdline="quiet moss.readonly=0")
    on = agent(tmp_path / "on", "ABSENT", cmdline="moss.readonly=0 moss.readonly=1")

    assert off["usr"] == off["/"] == "rw" and off["mounts"] == "1"
    assert on["usr"] == on["/"] == "ro" and on["etc"] == "rw"


def test_a_failed_mount_is_undone_and_the_root_stays_writable(tmp_path: Path) -> None:
    # the sysroot is a plain folder, not a mount: its read-only remount fails (EINVAL)
    seen = agent(tmp_path, "enabled = yes\n", plain_dir=True)

    assert all(seen[p] == "rw" for p in ("/", "usr", "usr/bin", "etc")), seen
    assert seen["mounts"] == "1"  # the binds made before the failure are gone
    assert "booting with a writable root" in kmsg(tmp_path)
    assert not (tmp_path / "run/moss/readonly").exists()
    assert not (tmp_path / "run/systemd").exists()


def test_nothing_of_the_os_moss_manages_is_made_writable_and_each_bad_entry_is_logged(
    tmp_path: Path,
) -> None:
    # issue 23, rule 7: each of these folders exists in the root, so only the rule keeps it ro
    bad = ["/usr/bin", "/usr/lib", "/usr/share/moss", "/usr\0x", "/usr/local/bin", "/.moss/root/1",
           "/.moss", "/usr/../usr/bin", "/./usr/bin", "//usr/bin", "/usr/bin/", "/srv\x1b[2J"]
    conf = ("enabled = yes\nwritable = " + " ".join(bad) + " /srv /usr/local\n").encode()
    seen = agent(tmp_path, conf)

    for place in ("/", "usr", "usr/bin", "usr/lib", "usr/share/moss", ".moss/root/1/usr/bin"):
        assert seen[place] == "ro", place
    assert seen["srv"] == seen["usr/local"] == seen["usr/local/bin"] == "rw"
    assert (tmp_path / "run/moss/readonly").read_text() == "/srv\n/usr/local\n"
    log = kmsg(tmp_path)
    for entry in bad:
        assert repr(entry) in log, entry
    assert "\x1b" not in log and "\0" not in log


_SEGMENTS = st.sampled_from(["usr", "bin", "lib", "share", "moss", ".moss", "root", "local", "srv",
                             "etc", "..", ".", "", "usr\0x", "\x7f", "a\x9b", "\ufffd", "var"])


def _oracle_bad(path: str) -> bool:
    """The rule, written independently: what must never be made writable."""
    parts = path.split("/")
    if not path.startswith("/") or any(p in (".", "..") for p in parts[1:]):
        return True
    if path == "/" or "" in parts[1:] or any(unicodedata.category(ch) == "Cc" or ch == "\ufffd"
                                             for ch in path):
        return True
    return parts[1] in ("usr", ".moss") and path != "/usr/local"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(_SEGMENTS, max_size=4).map(lambda s: "/" + "/".join(s)), max_size=8))
def test_every_writable_list_keeps_the_os_read_only(paths: list[str]) -> None:
    text = "enabled = yes\nwritable = " + " ".join(paths) + "\n"
    conf = ondisk.parse_readonly_conf(text)

    words = text.split("=", 2)[2].split()
    for path in conf.writable:
        assert not _oracle_bad(path), path
    for word in words:
        if _oracle_bad(word):
            assert any(repr(word) in problem for problem in conf.problems), word


@settings(max_examples=10, deadline=None)
@given(st.lists(st.lists(_SEGMENTS, min_size=1, max_size=4).map(lambda s: "/" + "/".join(s)),
                min_size=1, max_size=6))
def test_through_the_agent_no_generated_list_opens_the_os(paths: list[str]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as work:
        conf = ("enabled = yes\nwritable = " + " ".join(paths) + "\n").encode("utf-8",
                                                                              "surrogatepass")
        seen = agent(Path(work), conf)
        log = kmsg(Path(work))

    for place in ("/", "usr", "usr/bin", "usr/lib", "usr/share/moss", ".moss/root/1/usr/bin"):
        assert seen[place] == "ro", (place, paths)
    assert "Traceback" not in log
