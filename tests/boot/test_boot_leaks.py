"""A hostile kernel package must not leak host files onto $BOOT nor write entry lines.

Each test installs real packages with ``moss install`` into a root whose ESP lies
inside it, then checks what a user would: that no file on the ESP holds the host's
secret, that no entry gained a line, and that moss said which kernel it skipped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import boot
from moss.stone import PackageMeta
from moss.stonetools.pack import pack_tree
from tests.boot.test_boot_sync import config_for, make_state
from tests.support.packages import Link, make_package, make_tree

SECRET = b"host-secret-3f9a1c"


def moss(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "moss", "-D", str(root), "-y", "--quiet", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    (root / "etc/moss").mkdir(parents=True)
    (root / "efi").mkdir()
    (root / "etc/moss/boot.conf").write_text("esp = /efi\nroot = root=/dev/vda rw\n")
    return root


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A file of the host, outside the root: what /etc/shadow stands for."""
    host = tmp_path / "host"
    host.mkdir()
    (host / "shadow").write_bytes(SECRET)
    (host / "vmlinuz").write_bytes(SECRET)
    return host / "shadow"


def good_kernel(tmp_path: Path) -> Path:
    return make_package(tmp_path, "linux", {
        "lib/kernel/6.1.0/vmlinuz": os.urandom(4096),
        "lib/kernel/6.1.0/10-default.cmdline": "quiet",
    }, version="6.1.0")


def esp_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root / "efi").as_posix(): p.read_bytes()
            for p in (root / "efi").rglob("*") if p.is_file()}


def assert_no_leak(root: Path) -> dict[str, bytes]:
    files = esp_files(root)
    assert files, "the good kernel should still have its entry"
    assert not [name for name, data in files.items() if SECRET in data]
    return files


def install_evil(tmp_path: Path, root: Path, files: dict[str, bytes | str | Link | None]
                 ) -> subprocess.CompletedProcess[str]:
    evil = make_package(tmp_path, "evil-kernel", files)
    return moss(root, "install", str(good_kernel(tmp_path)), str(evil))


def test_vmlinuz_symlink_to_a_host_file_is_not_copied(
        tmp_path: Path, root: Path, secret: Path) -> None:
    proc = install_evil(tmp_path, root, {"lib/kernel/6.6.6/vmlinuz": Link(str(secret))})
    assert proc.returncode == 0, proc.stderr
    assert "kernel '6.6.6'" in proc.stderr and "skipped" in proc.stderr
    files = assert_no_leak(root)
    assert [n for n in files if n.startswith("loader/entries/")] == [
        "loader/entries/serpentos-6.1.0-1.conf"]


def test_cmdline_symlink_to_a_host_file_is_not_read(
        tmp_path: Path, root: Path, secret: Path) -> None:
    proc = install_evil(tmp_path, root, {
        "lib/kernel/6.6.6/vmlinuz": os.urandom(1024),
        "lib/kernel/6.6.6/90-evil.cmdline": Link(str(secret)),
    })
    assert proc.returncode == 0, proc.stderr
    assert "kernel '6.6.6'" in proc.stderr
    assert_no_leak(root)


def test_initrd_dotdot_chain_to_a_host_file_is_not_copied(
        tmp_path: Path, root: Path, secret: Path) -> None:
    proc = install_evil(tmp_path, root, {
        "lib/kernel/6.6.6/vmlinuz": os.urandom(1024),
        "lib/kernel/6.6.6/10-evil.initrd": Link("../" * 30 + str(secret).lstrip("/")),
    })
    assert proc.returncode == 0, proc.stderr
    assert "kernel '6.6.6'" in proc.stderr
    assert_no_leak(root)


def test_kernel_folder_that_is_a_host_symlink_is_skipped(
        tmp_path: Path, root: Path, secret: Path) -> None:
    proc = install_evil(tmp_path, root, {"lib/kernel/6.6.6": Link(str(secret.parent))})
    assert proc.returncode == 0, proc.stderr
    assert "kernel '6.6.6'" in proc.stderr
    assert_no_leak(root)


def test_links_inside_the_state_still_work(tmp_path: Path, root: Path) -> None:
    proc = install_evil(tmp_path, root, {
        "lib/kernel/images/vmlinuz-6.6.6": os.urandom(1024),
        "lib/kernel/6.6.6/vmlinuz": Link("/usr/lib/kernel/images/vmlinuz-6.6.6"),
        "lib/kernel/6.6.6/10-a.initrd": Link("../images/vmlinuz-6.6.6"),
    })
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    files = esp_files(root)
    assert "loader/entries/serpentos-6.6.6-1.conf" in files
    assert files["EFI/serpentos/6.6.6/vmlinuz"] == files["EFI/serpentos/6.6.6/10-a.initrd"]


def test_admin_cmdline_symlink_is_read_inside_the_root(
        tmp_path: Path, root: Path, secret: Path) -> None:
    cmdline_d = root / "etc/kernel/cmdline.d"
    cmdline_d.mkdir(parents=True)
    (cmdline_d / "10-leak.cmdline").symlink_to(secret)
    (cmdline_d / "20-mask.cmdline").symlink_to("/dev/null")
    proc = moss(root, "install", str(good_kernel(tmp_path)))
    # The state went live; only its boot entries could not be written (README: status 3).
    assert proc.returncode == 3
    assert len(proc.stderr.splitlines()) == 1 and "10-leak.cmdline" in proc.stderr
    assert "state 1 is active, but its boot entries were not updated" in proc.stderr
    assert not [n for n, data in esp_files(root).items() if SECRET in data]
    # The same path inside the root is the root's own file, and is read.
    inside = root / str(secret).lstrip("/")
    inside.parent.mkdir(parents=True)
    inside.write_text("console=ttyS0\n")
    proc = moss(root, "boot", "sync")
    assert proc.returncode == 0, proc.stderr
    entry = (root / "efi/loader/entries/serpentos-6.1.0-1.conf").read_text()
    assert "options root=/dev/vda rw console=ttyS0 moss.fstx=1 quiet\n" in entry


def entry_lines(root: Path) -> list[str]:
    return [line for p in (root / "efi/loader/entries").iterdir()
            for line in p.read_text().splitlines()]


def test_kernel_version_with_a_newline_is_skipped(tmp_path: Path, root: Path) -> None:
    proc = install_evil(tmp_path, root, {
        "lib/kernel/6.6.8\noptions init=PWNED/vmlinuz": os.urandom(1024)})
    assert proc.returncode == 0, proc.stderr
    assert "skipped" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert not [line for line in entry_lines(root) if "PWNED" in line]
    assert not [p for p in (root / "efi").rglob("*") if not p.name.isprintable()]


def test_package_name_with_a_newline_is_refused_at_install(tmp_path: Path, root: Path) -> None:
    meta = PackageMeta(name="evil\noptions init=/PWNED", version="1.0", release=1)
    evil = pack_tree(make_tree(tmp_path / "evil", {"share/x": "x"}), meta, tmp_path / "e.stone")
    proc = moss(root, "install", str(good_kernel(tmp_path)), str(evil))
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and "control character" in proc.stderr
    assert not (root / "efi/loader").exists() and not (root / "usr/share").exists()


def test_package_version_with_a_space_is_refused_at_install(tmp_path: Path, root: Path) -> None:
    evil = make_package(tmp_path, "evil", {"share/x": "x"}, version="1 options")
    proc = moss(root, "install", str(evil))
    assert proc.returncode == 1
    assert len(proc.stderr.splitlines()) == 1 and "version" in proc.stderr


def test_state_summary_and_os_name_cannot_add_an_entry_line(tmp_path: Path) -> None:
    """States recorded before names were checked, or an os-release a package ships."""
    root = tmp_path / "r"
    (root / "etc/moss").mkdir(parents=True)
    (root / "etc/moss/boot.conf").write_text("root = root=/dev/vda rw\n")
    (root / "etc/os-release").write_text('NAME="Serpent\rOS"\n')
    espdir = tmp_path / "esp"
    espdir.mkdir()
    state = make_state(tmp_path, 1)
    state = boot.BootState(1, state.usr, state.created, "install evil\noptions init=/PWNED")
    boot.sync(root, [state], 1, None, config_for(root, espdir))
    text = next((espdir / "loader/entries").iterdir()).read_text()
    keys = [line.split(" ")[0] for line in text.splitlines() if not line.startswith("#")]
    assert keys == ["title", "sort-key", "version", "linux", "initrd", "options"]
    assert "\r" not in text and "options root=/dev/vda rw moss.fstx=1 quiet\n" in text
