"""A state whose initramfs cannot mount the root is named while its entry is written.

Initramfs images are made by the real `cpio -H newc` and compressors (gzip, xz, zstd,
bzip2), with and without an uncompressed early archive in front as dracut writes for
microcode; generated file sets check both the listing and the verdict, `lsinitrd`
(dracut's own reader) agrees on one, and `moss install` names the state.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from boot.entries import initramfs
from moss.cli import main
from moss.core.errors import MossError
from tests.support.blockdev import boot_root
from tests.support.dracut import lsinitrd_paths
from tests.support.packages import make_package

COMPRESSORS = {"none": None, "gzip": ["gzip", "-c"], "xz": ["xz", "-c", "--check=crc32"],
               "zstd": ["zstd", "-q", "-c"], "bzip2": ["bzip2", "-c"]}

PROOFS = {
    "usr/lib/modules/6.1.0/kernel/drivers/md/dm-crypt.ko.zst": ("dm-crypt", "the dm-crypt module"),
    "usr/sbin/cryptsetup": ("dm-crypt", "cryptsetup"),
    "usr/lib/modules/6.1.0/kernel/drivers/md/dm-mod.ko.xz": ("lvm", "the dm-mod module"),
    "usr/sbin/lvm": ("lvm", "the lvm tool"),
    "usr/lib/modules/6.1.0/kernel/fs/btrfs/btrfs.ko": ("btrfs", "the btrfs module"),
}
NOISE = ["usr/bin/sh", "etc/os-release", "usr/lib/modules/6.1.0/kernel/fs/ext4/ext4.ko.zst",
         "usr/sbin/lvmetad-not-lvm", "init"]


def make_initramfs(where: Path, files: list[str], compression: str, early: bool) -> Path:
    """An image as dracut lays it out: [early cpio] + compressed main cpio."""
    tree = where / "tree"
    for name in files:
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(name)
    tree.mkdir(exist_ok=True)
    listing = subprocess.run(["find", "."], cwd=tree, capture_output=True, check=True).stdout
    archive = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=tree, input=listing,
                             capture_output=True, check=True).stdout
    command = COMPRESSORS[compression]
    if command is not None:
        archive = subprocess.run(command, input=archive, capture_output=True, check=True).stdout
    image = where / "initrd"
    head = b""
    if early:
        micro = where / "early"
        (micro / "kernel/x86/microcode").mkdir(parents=True)
        (micro / "kernel/x86/microcode/GenuineIntel.bin").write_bytes(b"\x01" * 37)
        early_list = subprocess.run(["find", "."], cwd=micro, capture_output=True,
                                    check=True).stdout
        head = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=micro,
                              input=early_list, capture_output=True, check=True).stdout
        head += b"\0" * (-len(head) % 512)
    image.write_bytes(head + archive)
    return image


@settings(max_examples=25, deadline=None)
@given(st.sets(st.sampled_from(sorted(PROOFS) + NOISE)), st.sampled_from(sorted(COMPRESSORS)),
       st.booleans(), st.sets(st.sampled_from(["dm-crypt", "lvm", "btrfs"])))
def test_listing_and_verdict_follow_the_files(
        files: set[str], compression: str, early: bool, needs: set[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        image = make_initramfs(Path(tmp), sorted(files), compression, early)
        names = initramfs.listing(image)
    assert set(files) <= names
    if early:
        assert "kernel/x86/microcode/GenuineIntel.bin" in names
    expected = [said for need in ["dm-crypt", "lvm", "btrfs"] if need in needs
                for path, (n, said) in PROOFS.items() if n == need and path not in files]
    assert sorted(initramfs.missing(names, [n for n in ["dm-crypt", "lvm", "btrfs"]
                                            if n in needs], set())) == sorted(expected)


def test_a_builtin_module_needs_no_file() -> None:
    assert initramfs.missing({"usr/sbin/cryptsetup"}, ["dm-crypt", "btrfs"],
                             {"dm_crypt", "btrfs"}) == []


@pytest.mark.parametrize(("cmdline", "needs"), [
    ("root=UUID=1 rw", []),
    ("root=UUID=1 rw rootflags=subvol=@ rd.luks.uuid=2", ["dm-crypt", "btrfs"]),
    ("root=UUID=1 rw rd.luks.uuid=2 rd.lvm.lv=vg/root quiet", ["dm-crypt", "lvm"]),
    ("root=UUID=1 rootfstype=btrfs", ["btrfs"]),
])
def test_what_a_command_line_asks_of_the_initramfs(cmdline: str, needs: list[str]) -> None:
    assert initramfs.needs_of(cmdline) == needs


def test_dracuts_own_reader_agrees(tmp_path: Path) -> None:
    if shutil.which("lsinitrd") is None:
        pytest.skip("lsinitrd (dracut-core) is not installed")
    image = make_initramfs(tmp_path, sorted(PROOFS) + NOISE, "zstd", early=False)
    theirs = set(lsinitrd_paths(image)) - {"."}
    assert set(PROOFS) <= theirs
    assert theirs <= initramfs.listing(image)


def test_garbage_is_one_clear_error(tmp_path: Path) -> None:
    image = tmp_path / "initrd"
    image.write_bytes(b"not an initramfs at all")
    with pytest.raises(MossError, match="neither a cpio archive"):
        initramfs.listing(image)


def kernel_with(workdir: Path, kver: str, release: int, initrd: Path) -> Path:
    return make_package(workdir, "linux", {
        f"lib/kernel/{kver}/vmlinuz": b"kernel " + kver.encode(),
        f"lib/kernel/{kver}/10-default.initrd": initrd.read_bytes(),
        f"lib/modules/{kver}/modules.dep": "",
    }, version=kver, release=release)


def test_install_names_the_state_that_cannot_mount_the_root(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = boot_root(tmp_path / "root",
                     "esp = /efi\nroot = root=UUID=1 rw rootflags=subvol=@ rd.luks.uuid=2\n")
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    bare = make_initramfs(tmp_path / "a", NOISE, "zstd", early=True)
    full = make_initramfs(tmp_path / "b", sorted(PROOFS), "gzip", early=False)
    capsys.readouterr()
    assert main(["-D", str(root), "-y", "--quiet", "install",
                 str(kernel_with(tmp_path, "6.1.0-1", 1, bare))]) == 0
    err = capsys.readouterr().err
    assert "state 1 (kernel 6.1.0-1) cannot mount this root" in err
    assert "the dm-crypt module, cryptsetup, the btrfs module" in err
    assert "boots by default" in err
    assert main(["-D", str(root), "-y", "--quiet", "install",
                 str(kernel_with(tmp_path, "6.1.0-2", 2, full))]) == 0
    err = capsys.readouterr().err
    assert "state 2" not in err
    assert "state 1 (kernel 6.1.0-1) cannot mount this root" in err
    assert "boots by default" not in err


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(COMPRESSORS)), st.integers(0, 4000), st.binary(min_size=1,
       max_size=16), st.booleans())
@example("gzip", 1194, b"\x00", False)  # zlib.error ("invalid distance too far back")
def test_a_damaged_image_is_one_error_never_a_crash(
        compression: str, where: int, junk: bytes, cut: bool) -> None:
    """Overwrite or cut a real image anywhere: a listing or a MossError, nothing else."""
    with tempfile.TemporaryDirectory() as tmp:
        image = make_initramfs(Path(tmp), sorted(PROOFS), compression, early=True)
        data = bytearray(image.read_bytes())
        where %= len(data)
        if cut:
            del data[where:]
        else:
            data[where:where + len(junk)] = junk
        image.write_bytes(bytes(data))
        try:
            names = initramfs.listing(image)
        except MossError as exc:
            assert "\n" not in str(exc)  # one line for the warning
        else:
            assert all(isinstance(n, str) for n in names)
