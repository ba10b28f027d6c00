"""Real boots of a moss-built OS: OVMF, systemd-boot, a dracut initramfs with the pivot agent.

Everything runs under TCG (KVM does not work on these machines), one boot takes
~20 s; each test prints its boots' durations (``pytest qemu-tests -s``).  The
guest's init prints ``GUEST key=value`` lines (see guest.py) that the tests read.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import guest
from boots import BOOT_TIMEOUT, MachineMaker, boot_once, build_root, pivot_of, print_timing
from conftest import Packages
from machine import Boot, kernel_lines, reports


def test_default_boot_reaches_the_newest_state(
    packages: Packages, machines: MachineMaker, tmp_path: Path
) -> None:
    root = build_root(tmp_path / "root", [packages.base(), [packages.hello]])
    assert guest.state_id(root) == 2

    boot, _ = boot_once(machines, root, tmp_path / "vm", "default boot")

    assert boot.one("stateid") == "2"
    assert boot.one("uname") == packages.kver
    assert "moss.fstx=2" in boot.one("cmdline").split()
    assert sorted(boot.values["package"]) == [
        "busybox-1.0-1", "hello-1.0-1", "init-1.0-1", f"linux-{packages.kver.split('-')[0]}-1",
        "systemd-boot-1.0-1",
    ]
    assert pivot_of(boot)["result"] == "already-active"


def test_deferred_kernel_update_goes_live_at_the_next_boot(
    packages: Packages, machines: MachineMaker, tmp_path: Path
) -> None:
    root = build_root(tmp_path / "root", [packages.base()])
    guest.moss(root, "install", "--defer", str(packages.linux_cloud))
    # the running tree is untouched: state 2 waits, its entry is the default, counted
    assert guest.state_id(root) == 1
    pending = f"serpentos-{packages.cloud_kver}-2+3.conf"
    assert pending in guest.entries(root)
    last_booted = root / "efivars" / f"LoaderEntryLastBooted-{guest.SYSTEMD_BOOT_GUID}"
    assert guest.efivar_text(last_booted.read_bytes()) == pending

    boot, machine = boot_once(machines, root, tmp_path / "vm", "deferred kernel update")

    assert boot.one("uname") == packages.cloud_kver
    assert boot.one("stateid") == "2"
    assert "moss.fstx=2" in boot.one("cmdline").split()
    record = pivot_of(boot)
    assert (record["result"], record["previous"], record["active"]) == ("activated", 1, 2)
    assert f"linux-{packages.cloud_kver.split('-')[0]}-2" in boot.values["package"]
    # the activation persisted on the disk, not only for this boot
    assert guest.read_root_file(machine.images.root, "/usr/.stateID").strip() == "2"


def test_entry_of_a_deleted_state_boots_the_current_one(
    packages: Packages, machines: MachineMaker, tmp_path: Path
) -> None:
    root = build_root(tmp_path / "root", [packages.base(), [packages.hello]])
    gone = f"serpentos-{packages.kver}-1.conf"
    assert gone in guest.entries(root)
    shutil.rmtree(root / ".moss/root/1")
    # the firmware remembers state 1's entry as if the user had picked it last time
    boot, machine = boot_once(machines, root, tmp_path / "vm", "entry of a deleted state",
                              extra_vars={"LoaderEntryLastBooted": gone})

    assert "moss.fstx=1" in boot.one("cmdline").split()
    assert boot.one("stateid") == "2"
    assert "hello-1.0-1" in boot.values["package"]
    record = pivot_of(boot)
    assert (record["requested"], record["result"], record["active"]) == (1, "kept-current", 2)
    # the reason is in the kernel log on the console, as an error (shown at loglevel=6)
    console = kernel_lines(machine.log(), "moss-pivot:")
    assert len(console) == 1, console
    assert "state 1" in console[0] and "keeping state 2" in console[0], console
    assert str(record["reason"]) in console[0]


def highlighted(state: int) -> str:
    """The menu line systemd-boot draws black on white (the selection) for a state."""
    return r"\x1b\[47m\s*Serpent OS \S+ \(state " + str(state) + ","


def test_menu_choice_of_an_older_state_sticks(
    packages: Packages, machines: MachineMaker, tmp_path: Path
) -> None:
    root = build_root(tmp_path / "root", [packages.base(), [packages.hello]], timeout=5)
    older = f"serpentos-{packages.kver}-1.conf"
    images = guest.make_images(root, tmp_path / "vm")

    # boot 1: the user stops the timer, goes down to state 1 and starts it
    first = machines(images, tmp_path / "vm")
    first.start()
    first.wait_for(r"Boot in \d+ s", BOOT_TIMEOUT)
    first.wait_for(highlighted(2), 10)
    first.press("down")
    first.wait_for(highlighted(1), 10)
    first.press("ret")
    first.wait_for(r"GUEST done", BOOT_TIMEOUT)
    chosen = Boot(first.wait_poweroff(60), reports(first.log())[0])
    print_timing("menu choice (key presses)", chosen)
    assert "moss.fstx=1" in chosen.one("cmdline").split()
    assert chosen.one("stateid") == "1"
    assert "hello-1.0-1" not in chosen.values["package"]
    assert pivot_of(chosen)["result"] == "activated"
    assert guest.read_var(images.vars, "LoaderEntryLastBooted") == older

    # boot 2: nobody touches a key; the same VARS store and disks
    second = machines(images, tmp_path / "vm")
    second.start()
    second.wait_for(r"GUEST done", BOOT_TIMEOUT)
    again = Boot(second.wait_poweroff(60), reports(second.log())[0])
    print_timing("default boot after the menu choice", again)
    assert "moss.fstx=1" in again.one("cmdline").split()
    assert again.one("stateid") == "1"
    assert pivot_of(again)["result"] == "already-active"

    # moss on that disk agrees: a sync keeps both entries and makes state 1's the default
    synced = disk_root(images, tmp_path / "after")
    guest.moss(synced, "boot", "sync")
    status = json.loads(guest.moss(synced, "boot", "status", "--json"))
    assert status["active"] == 1
    assert status["default"] == older
    assert {e["file"] for e in status["entries"]} == {older, f"serpentos-{packages.kver}-2.conf"}


def disk_root(images: guest.Images, dest: Path) -> Path:
    """The root disk after the boots as a directory, its efivars as the firmware holds them."""
    dest.mkdir()
    guest.read_root_file(images.root, "/usr/.stateID")  # replays the journal
    subprocess.run(["debugfs", "-R", f"rdump / {dest}", str(images.root)], check=True,
                   capture_output=True)
    for var in (dest / "efivars").iterdir():
        var.unlink()
    name = "LoaderEntryLastBooted"
    value = guest.read_var(images.vars, name)
    if value is not None:
        data = b"\x07\0\0\0" + (value + "\0").encode("utf-16-le")
        (dest / "efivars" / f"{name}-{guest.SYSTEMD_BOOT_GUID}").write_bytes(data)
    return dest


def test_failing_pending_state_is_tried_three_times_then_rolled_back(
    packages: Packages, machines: MachineMaker, tmp_path: Path
) -> None:
    root = build_root(tmp_path / "root", [packages.base()])
    # the broken init waits for the next boot like a kernel update, so its entry counts tries
    guest.moss(root, "install", "--defer", str(packages.broken_init))
    assert guest.state_id(root) == 1
    counted = f"serpentos-{packages.kver}-2+3.conf"
    assert counted in guest.entries(root)
    images = guest.make_images(root, tmp_path / "vm")

    # one machine for all boots: each panic resets it (panic=1), as a real computer would
    machine = machines(images, tmp_path / "vm")
    machine.start()
    machine.wait_for(r"GUEST done", 4 * BOOT_TIMEOUT)
    seconds = machine.wait_poweroff(60)
    log = machine.log()
    boots = reports(log)
    starts = [round(b - machine.started, 1) for b in machine.kernel_seen]
    print(f"\n[qemu] boot counting: {len(boots)} boots in {seconds:.1f} s power-on to "
          f"power-off; kernels seen starting at {starts} s")

    assert len(boots) == 4, f"expected 3 failed boots and a good one, saw {len(boots)}"
    for failed in boots[:3]:
        assert failed.get("broken-init") == ["2"]
        assert "done" not in failed
    assert log.count("Kernel panic - not syncing: Attempted to kill init!") == 3
    good = Boot(seconds, boots[3])
    assert "moss.fstx=1" in good.one("cmdline").split()
    assert good.one("stateid") == "1"
    assert "init-1.0-1" in good.values["package"]
    record = pivot_of(good)
    assert (record["result"], record["previous"], record["active"]) == ("activated", 2, 1)
    # systemd-boot used up the tries on the entry and saved the fallback as the last booted
    listing = subprocess.run(["mdir", "-b", "-i", str(images.esp), "::/loader/entries"],
                             check=True, capture_output=True, text=True, env=guest.MTOOLS)
    assert f"serpentos-{packages.kver}-2+0-3.conf" in listing.stdout
    assert guest.read_var(images.vars, "LoaderEntryLastBooted") == (
        f"serpentos-{packages.kver}-1.conf")
