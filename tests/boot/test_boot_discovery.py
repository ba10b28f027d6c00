"""Which ESP and XBOOTLDR are the boot loader's: the firmware's word first, then the disks.

A captured `lsblk -J` of a two-disk machine is parsed as moss reads it, and the rule of
the choice is tested on generated machines (partitions of random types on random disks,
a LoaderDevicePartUUID naming one of them, another partition or none).
"""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from boot.discovery import partitions
from boot.discovery.partitions import ESP_TYPE, XBOOTLDR_TYPE, Partition
from tests.boot.test_boot_topology import Dev, lay_out

LINUX_TYPE = "0fc63daf-8483-4772-8e79-3d69d8477de4"

TWO_DISKS = {
    "blockdevices": [
        {"path": "/dev/sda", "pkname": None, "parttype": None, "partuuid": None,
         "mountpoint": None, "children": [
             {"path": "/dev/sda1", "pkname": "sda", "parttype": ESP_TYPE.upper(),
              "partuuid": "AAAA0001-0000-4000-8000-000000000001", "mountpoint": "/mnt/other"},
         ]},
        {"path": "/dev/nvme0n1", "pkname": None, "parttype": None, "partuuid": None,
         "mountpoint": None, "children": [
             {"path": "/dev/nvme0n1p1", "pkname": "nvme0n1", "parttype": ESP_TYPE,
              "partuuid": "bbbb0001-0000-4000-8000-000000000001", "mountpoint": None},
             {"path": "/dev/nvme0n1p2", "pkname": "nvme0n1", "parttype": XBOOTLDR_TYPE,
              "partuuid": "bbbb0002-0000-4000-8000-000000000002", "mountpoint": "/boot"},
             {"path": "/dev/nvme0n1p3", "pkname": "nvme0n1", "parttype": LINUX_TYPE,
              "partuuid": "bbbb0003-0000-4000-8000-000000000003", "mountpoint": None,
              "children": [{"path": "/dev/mapper/root", "pkname": "nvme0n1p3",
                            "parttype": None, "partuuid": None, "mountpoint": "/"}]},
         ]},
    ]
}


def test_the_firmware_esp_wins_over_a_mounted_one_on_another_disk() -> None:
    parts = partitions.parse_lsblk(json.dumps(TWO_DISKS))
    assert [p.path for p in parts if p.parttype == ESP_TYPE] == ["/dev/sda1", "/dev/nvme0n1p1"]
    # systemd-boot was started from nvme0n1p1 (the variable is upper case)
    esp, xbootldr = partitions.choose(parts, "BBBB0001-0000-4000-8000-000000000001", set())
    assert esp is not None and esp.path == "/dev/nvme0n1p1" and esp.mountpoint is None
    assert xbootldr is not None and xbootldr.mountpoint == "/boot"
    # no variable: the root's disk, not the first ESP listed
    esp, _ = partitions.choose(parts, None, {"nvme0n1"})
    assert esp is not None and esp.path == "/dev/nvme0n1p1"
    # nothing to go by: the first ESP, and no XBOOTLDR from a disk the loader never reads
    esp, xbootldr = partitions.choose(parts, None, set())
    assert esp is not None and esp.path == "/dev/sda1" and xbootldr is None


def test_a_partition_is_on_the_disk_sysfs_nests_it_in(tmp_path: Path) -> None:
    sysfs = lay_out(tmp_path / "sys", [Dev("dm-0", "254:0")])
    disk = tmp_path / "sys" / "devices" / "pci0" / "nvme0n1"
    (disk / "nvme0n1p3").mkdir(parents=True)
    (disk / "nvme0n1p3" / "partition").write_text("3\n")
    (sysfs / "class" / "block" / "nvme0n1p3").symlink_to(disk / "nvme0n1p3")
    assert partitions.disk_of(sysfs, "nvme0n1p3") == "nvme0n1"
    assert partitions.disk_of(sysfs, "dm-0") == "dm-0"


kinds = st.sampled_from([ESP_TYPE, XBOOTLDR_TYPE, LINUX_TYPE])
machines = st.lists(st.tuples(st.sampled_from(["sda", "sdb", "nvme0n1"]), kinds), max_size=7)


@settings(max_examples=150, deadline=None)
@given(machines, st.integers(-2, 7), st.sets(st.sampled_from(["sda", "sdb", "nvme0n1"])))
def test_the_choice_follows_the_rule(
        layout: list[tuple[str, str]], loader_index: int, root_disks: set[str]) -> None:
    parts = [Partition(f"/dev/{disk}{i}", disk, kind, f"{i:08x}-0000-4000-8000-000000000000",
                       None) for i, (disk, kind) in enumerate(layout)]
    # -2: no variable; -1 or past the end: names a partition not listed
    loader = None if loader_index == -2 else f"{loader_index % 256:08X}-0000-4000-8000-000000000000"
    esp, xbootldr = partitions.choose(parts, loader, root_disks)
    named = [p for p in parts if loader is not None and p.partuuid == loader.lower()]
    esps = [p for p in parts if p.parttype == ESP_TYPE]
    if named:
        assert esp == named[0]
    elif any(p.disk in root_disks for p in esps):
        assert esp == next(p for p in esps if p.disk in root_disks)
    else:
        assert esp == (esps[0] if esps else None)
    disks = {esp.disk} if esp else root_disks
    candidates = [p for p in parts if p.parttype == XBOOTLDR_TYPE and p.disk in disks]
    assert xbootldr == (candidates[0] if candidates else None)
    if xbootldr is not None and esp is not None:
        assert xbootldr.disk == esp.disk
