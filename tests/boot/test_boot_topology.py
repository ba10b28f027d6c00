"""The kernel command line worked out from the block devices under the root.

Captured layouts (Fedora's btrfs-in-LUKS, Debian's LUKS → LVM → ext4) are laid out as
the sysfs files the kernel shows and fed to the walk with their mountinfo lines;
generated stacks test the rule behind them; and a real btrfs on a loop device, with
the OS in a subvolume, goes through `moss install -D` to the entry it writes.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from boot.topology import probe, rootstack
from boot.topology.rootstack import UnknownStack
from moss.cli import main
from tests.boot.test_boot_integration import entry_options, kernel_package
from tests.support.blockdev import boot_root, loop_device, mounted

LUKS_HEX = "3f6b1c2ad0e94c5b8a7e61f2c4d9b0aa"
LUKS_DASHED = "3f6b1c2a-d0e9-4c5b-8a7e-61f2c4d9b0aa"


@dataclass
class Dev:
    """One block device as sysfs shows it."""

    name: str
    dev: str
    slaves: list[str] = field(default_factory=list)
    dm_uuid: str | None = None
    dm_name: str | None = None
    md: bool = False


def lay_out(sysfs: Path, devices: list[Dev]) -> Path:
    """``/sys/class/block/<name>`` folders and ``/sys/dev/block/M:m`` links, as the kernel has."""
    for d in devices:
        node = sysfs / "class" / "block" / d.name
        (node / "slaves").mkdir(parents=True)
        (node / "dev").write_text(d.dev + "\n")
        for slave in d.slaves:
            (node / "slaves" / slave).symlink_to(f"../../{slave}")
        if d.dm_uuid is not None or d.dm_name is not None:
            (node / "dm").mkdir()
            (node / "dm" / "uuid").write_text((d.dm_uuid or "") + "\n")
            (node / "dm" / "name").write_text((d.dm_name or "") + "\n")
        if d.md:
            (node / "md").mkdir()
        link = sysfs / "dev" / "block" / d.dev
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(f"../../class/block/{d.name}")
    return sysfs


def args_for(sysfs: Path, mountinfo: str, where: str = "/", *, live: bool = True) -> str | None:
    return rootstack.root_arguments(Path(where), live=live, mountinfo_text=mountinfo,
                                   sysfs=sysfs, device_id=lambda _dev: "UUID=fs-uuid")


FEDORA_MOUNTINFO = (
    "60 1 0:33 /root / rw,relatime shared:1 - btrfs /dev/mapper/luks-3f6b1c2a rw,seclabel,"
    "compress=zstd:1,ssd,discard=async,space_cache=v2,subvolid=257,subvol=/root\n"
    "91 60 259:1 / /boot/efi rw,relatime shared:49 - vfat /dev/nvme0n1p1 rw,fmask=0077\n"
)


def test_fedora_btrfs_in_luks2_gets_its_subvolume_and_luks_uuid(tmp_path: Path) -> None:
    sysfs = lay_out(tmp_path / "sys", [
        Dev("nvme0n1p3", "259:3"),
        Dev("dm-0", "253:0", ["nvme0n1p3"], f"CRYPT-LUKS2-{LUKS_HEX}-luks-3f6b1c2a",
            "luks-3f6b1c2a"),
    ])
    assert args_for(sysfs, FEDORA_MOUNTINFO) == (
        f"root=UUID=fs-uuid rw rootflags=subvol=root rd.luks.uuid={LUKS_DASHED}")


def test_debian_luks_lvm_ext4_names_the_volume_group_and_lv(tmp_path: Path) -> None:
    sysfs = lay_out(tmp_path / "sys", [
        Dev("sda3", "8:3"),
        Dev("dm-0", "254:0", ["sda3"], f"CRYPT-LUKS2-{LUKS_HEX}-sda3_crypt", "sda3_crypt"),
        Dev("dm-1", "254:1", ["dm-0"], "LVM-" + "A" * 32 + "B" * 32, "debian--vg-root"),
    ])
    mountinfo = ("25 1 254:1 / / rw,relatime - ext4 /dev/mapper/debian--vg-root "
                 "rw,errors=remount-ro\n")
    stack = rootstack.describe(probe.parse_mounts(mountinfo)[0], sysfs)
    assert stack.needs() == ["dm-crypt", "lvm"]
    assert args_for(sysfs, mountinfo) == (
        f"root=UUID=fs-uuid rw rd.luks.uuid={LUKS_DASHED} rd.lvm.lv=debian-vg/root")


def test_plain_partition_says_only_root(tmp_path: Path) -> None:
    sysfs = lay_out(tmp_path / "sys", [Dev("vda2", "254:2")])
    assert args_for(sysfs, "22 1 254:2 / / rw - ext4 /dev/vda2 rw\n") == "root=UUID=fs-uuid rw"


@pytest.mark.parametrize(("devices", "fstype", "named"), [
    ([Dev("sdb", "8:16"), Dev("dm-0", "254:0", ["sdb"], "mpath-3600a0b80", "mpatha")],
     "ext4", "'mpatha' (mpath)"),
    ([Dev("sda1", "8:1"), Dev("dm-0", "254:0", ["sda1"], "", "plain")], "ext4", "(no uuid)"),
    ([Dev("sda1", "8:1"), Dev("sdb1", "8:17"), Dev("md0", "9:0", ["sda1", "sdb1"], md=True)],
     "xfs", "md RAID md0"),
    ([Dev("sda1", "8:1"), Dev("bcache0", "252:0", ["sda1"])], "ext4", "bcache0"),
])
def test_a_stack_moss_cannot_describe_is_named(
        tmp_path: Path, devices: list[Dev], fstype: str, named: str) -> None:
    sysfs = lay_out(tmp_path / "sys", devices)
    top = devices[-1]
    mountinfo = f"22 1 {top.dev} / / rw - {fstype} /dev/{top.name} rw\n"
    with pytest.raises(UnknownStack, match=named.replace("(", r"\(").replace(")", r"\)")):
        args_for(sysfs, mountinfo)


def test_network_root_is_refused_live_and_ignored_for_an_image(tmp_path: Path) -> None:
    mountinfo = "22 1 0:40 / / rw - nfs4 server:/export/root rw,vers=4.2\n"
    with pytest.raises(UnknownStack, match="nfs4 from 'server:/export/root'"):
        args_for(tmp_path, mountinfo)
    assert args_for(tmp_path, mountinfo, live=False) is None
    assert args_for(tmp_path, mountinfo, "/mnt", live=False) is None  # not a mount point


# LVM's names: letters, digits and "+_.-", never starting with "-".
lvm_names = st.from_regex(r"[A-Za-z0-9+_.][A-Za-z0-9+_.-]{0,12}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(lvm_names, lvm_names)
def test_lvm_dm_names_unescape_to_vg_and_lv(vg: str, lv: str) -> None:
    dm_name = f"{vg.replace('-', '--')}-{lv.replace('-', '--')}"
    assert rootstack.lvm_name(dm_name) == f"{vg}/{lv}"


@contextlib.contextmanager
def scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as name:
        yield Path(name)


subvol_names = st.text(st.sampled_from("ab@/._-, \"'\\\t"), min_size=0, max_size=8)


@settings(max_examples=30, deadline=None)
@given(
    partitions=st.integers(1, 3),
    encrypted=st.lists(st.booleans(), min_size=3, max_size=3),
    lvm=st.one_of(st.none(), st.tuples(lvm_names, lvm_names)),
    btrfs_subvol=st.one_of(st.none(), subvol_names),
)
def test_generated_stacks_ask_for_each_layer_once_and_in_order(
        partitions: int, encrypted: list[bool], lvm: tuple[str, str] | None,
        btrfs_subvol: str | None) -> None:
    """Partitions, each maybe in LUKS, maybe joined by an LV, under ext4 or btrfs."""
    devices: list[Dev] = []
    tops: list[str] = []
    luks: list[str] = []
    for i in range(partitions):
        devices.append(Dev(f"sda{i + 1}", f"8:{i + 1}"))
        tops.append(f"sda{i + 1}")
        if encrypted[i]:
            hexa = f"{i:x}" * 32
            devices.append(Dev(f"dm-{10 + i}", f"254:{10 + i}", [tops[-1]],
                               f"CRYPT-LUKS2-{hexa}-crypt{i}", f"crypt{i}"))
            tops[-1] = f"dm-{10 + i}"
            luks.append(f"{hexa[:8]}-{hexa[8:12]}-{hexa[12:16]}-{hexa[16:20]}-{hexa[20:]}")
    has_lvm = lvm is not None or len(tops) > 1
    if has_lvm:
        vg, lv = lvm or ("vg", "root")
        escaped = f"{vg.replace('-', '--')}-{lv.replace('-', '--')}"
        devices.append(Dev("dm-0", "254:0", sorted(tops), "LVM-" + "x" * 64, escaped))
        top, source = devices[-1], f"/dev/mapper/{escaped}"
    else:
        top, source = devices[-1], f"/dev/{devices[-1].name}"
    if btrfs_subvol is None:
        mountinfo = f"22 1 {top.dev} / / rw - ext4 {source} rw\n"
    else:
        escaped_subvol = "".join(f"\\{ord(c):03o}" if c in " \t\\," else c for c in btrfs_subvol)
        mountinfo = (f"22 1 0:33 /x / rw - btrfs {source} rw,ssd,subvolid=256,"
                     f"subvol=/{escaped_subvol}\n")
    with scratch() as tmp:
        sysfs = lay_out(tmp / "sys", devices)
        name = (btrfs_subvol or "").strip("/")
        if name and rootstack.SUBVOL.fullmatch(name) is None:
            with pytest.raises(UnknownStack, match="subvolume"):
                args_for(sysfs, mountinfo)
            return
        words = (args_for(sysfs, mountinfo) or "").split()
    assert words[:2] == ["root=UUID=fs-uuid", "rw"]
    assert [w for w in words if w.startswith("rd.luks.uuid=")] == [
        f"rd.luks.uuid={u}" for u in sorted(luks)]
    lvs = [w for w in words if w.startswith("rd.lvm.lv=")]
    assert lvs == ([f"rd.lvm.lv={lvm[0]}/{lvm[1]}" if lvm else "rd.lvm.lv=vg/root"]
                   if has_lvm else [])
    assert [w for w in words if w.startswith("rootflags=")] == (
        [f"rootflags=subvol={name}"] if name else [])


def _run(*cmd: str, stdin: str | None = None) -> str:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, input=stdin).stdout


# --- a real btrfs with the OS in a subvolume, through `moss install -D` --------------

@contextlib.contextmanager
def loop_btrfs(tmp_path: Path, subvol: str) -> Iterator[tuple[Path, str]]:
    """btrfs on a loop device, ``subvol`` created and mounted: (mount point, fs UUID)."""
    if os.geteuid() != 0 or shutil.which("mkfs.btrfs") is None:
        pytest.skip("needs root and btrfs-progs (scripts/setup.sh installs them)")
    image = tmp_path / "disk.img"
    with image.open("wb") as f:
        f.truncate(160 * 1024 * 1024)
    with loop_device(image) as loop:
        _run("mkfs.btrfs", "-q", loop)
        with btrfs_subvolume(loop, tmp_path, subvol) as mnt:
            yield mnt, _run("blkid", "-s", "UUID", "-o", "value", loop).strip()


@contextlib.contextmanager
def btrfs_subvolume(device: str, tmp_path: Path, subvol: str) -> Iterator[Path]:
    """Subvolume ``subvol`` made on the btrfs of ``device`` and mounted alone."""
    with mounted(device, tmp_path / "top") as top:
        _run("btrfs", "subvolume", "create", str(top / subvol))
    with mounted(device, tmp_path / "mnt", f"subvol={subvol}") as mnt:
        yield mnt


@pytest.fixture
def btrfs_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    with loop_btrfs(tmp_path, "@") as found:
        yield found


def configure(root: Path) -> None:
    """An ESP folder and efivars, but no root=: moss works it out."""
    boot_root(root, "esp = /efi\nefivars = /efivars\n")
    (root / "efivars").mkdir()


def test_real_btrfs_subvolume_reaches_the_entry(
        tmp_path: Path, btrfs_root: tuple[Path, str]) -> None:
    root, uuid = btrfs_root
    configure(root)
    assert main(["-D", str(root), "-y", "--quiet", "install",
                 str(kernel_package(tmp_path, "6.1.0-1", 1))]) == 0
    entries = sorted(p.name for p in (root / "efi/loader/entries").iterdir())
    assert entry_options(root, entries[0]).startswith(
        f"root=UUID={uuid} rw rootflags=subvol=@ moss.fstx=1")


def test_real_subvolume_that_cannot_be_written_keeps_old_entries_and_exits_3(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with loop_btrfs(tmp_path, "my os") as (root, _uuid):
        configure(root)
        conf = root / "etc/moss/boot.conf"
        conf.write_text(conf.read_text() + "root = root=UUID=by-hand rw\n")
        assert main(["-D", str(root), "-y", "--quiet", "install",
                     str(kernel_package(tmp_path, "6.1.0-1", 1))]) == 0
        entries = root / "efi/loader/entries"
        before = {p.name: p.read_text() for p in entries.iterdir()}
        conf.write_text("esp = /efi\nefivars = /efivars\n")  # now moss must work it out
        capsys.readouterr()
        assert main(["-D", str(root), "-y", "--quiet", "install",
                     str(kernel_package(tmp_path, "6.1.0-2", 2))]) == 3
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "'my os'" in err[0] and "boot entries were not updated" in err[0]
        assert {p.name: p.read_text() for p in entries.iterdir()} == before


# --- real LUKS2 (and LVM) on a loop device, where the kernel has device-mapper -------

def _device_mapper_or_skip() -> None:
    if os.geteuid() != 0 or shutil.which("cryptsetup") is None:
        pytest.skip("needs root and cryptsetup (scripts/setup.sh installs it)")
    if not Path("/sys/class/misc/device-mapper").exists():
        pytest.skip("this kernel has no device-mapper (no /sys/class/misc/device-mapper)")


@contextlib.contextmanager
def _luks_on_loop(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(the opened mapping's path, the LUKS UUID): few PBKDF2 iterations, so it is fast."""
    image = tmp_path / "luks.img"
    with image.open("wb") as f:
        f.truncate(200 * 1024 * 1024)
    name = f"moss-test-{os.getpid()}-{tmp_path.name[-8:]}"
    with loop_device(image) as loop:
        _run("cryptsetup", "luksFormat", "-q", "--type", "luks2", "--pbkdf", "pbkdf2",
             "--pbkdf-force-iterations", "1000", loop, "-", stdin="secret")
        _run("cryptsetup", "open", "--key-file", "-", loop, name, stdin="secret")
        try:
            yield f"/dev/mapper/{name}", _run("cryptsetup", "luksUUID", loop).strip()
        finally:
            subprocess.run(["cryptsetup", "close", name], check=False)


def test_real_luks2_btrfs_subvolume(tmp_path: Path) -> None:
    _device_mapper_or_skip()
    with _luks_on_loop(tmp_path) as (mapped, luks):
        _run("mkfs.btrfs", "-q", mapped)
        with btrfs_subvolume(mapped, tmp_path, "@") as mnt:
            uuid = _run("blkid", "-s", "UUID", "-o", "value", mapped).strip()
            assert rootstack.root_arguments(mnt, live=False) == (
                f"root=UUID={uuid} rw rootflags=subvol=@ rd.luks.uuid={luks}")


def test_real_luks2_lvm_ext4(tmp_path: Path) -> None:
    _device_mapper_or_skip()
    if shutil.which("lvm") is None:
        pytest.skip("needs lvm2 (scripts/setup.sh installs it)")
    vg = f"moss-t{os.getpid()}"
    with _luks_on_loop(tmp_path) as (mapped, luks):
        _run("lvm", "pvcreate", "-q", mapped)
        _run("lvm", "vgcreate", "-q", vg, mapped)
        try:
            _run("lvm", "lvcreate", "-q", "-y", "-L", "64M", "-n", "os-root", vg)
            lv = f"/dev/{vg}/os-root"
            _run("mkfs.ext4", "-q", lv)
            with mounted(lv, tmp_path / "mnt") as mnt:
                uuid = _run("blkid", "-s", "UUID", "-o", "value", lv).strip()
                assert rootstack.root_arguments(mnt, live=False) == (
                    f"root=UUID={uuid} rw rd.luks.uuid={luks} rd.lvm.lv={vg}/os-root")
        finally:
            subprocess.run(["lvm", "vgremove", "-q", "-f", vg], check=False)
