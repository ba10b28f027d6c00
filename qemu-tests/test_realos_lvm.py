"""The other common encrypted layout: LUKS2 → LVM → ext4 (Debian's and Ubuntu's installers).

The same real-OS machine (Secure Boot enforcing, TPM2 unlock) with its root in
logical volume ``vgmoss/root`` inside the LUKS2 volume.  After the installer's
boot, a live ``moss install`` writes the new state's entry from the device stack
it finds (``rd.luks.uuid=``, ``rd.lvm.lv=vgmoss/root``, ``root=UUID=``), and the
next boot unlocks with the TPM, activates the volume and runs the new state.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import realsetup
import realvm
from realboots import boot, one, succeeded
from realsetup import STONES, RealGuest, write_boot_scripts

hard_timeout = realsetup.hard_timeout

LIVE = f"""
step install moss -y install {STONES}/hello.stone
for f in /efi/loader/entries/*.conf; do say entry "$f $(grep ^options $f)"; done
"""
AFTER = """
say markers "$(ls /usr/share/qemu-guest | tr '\\n' ' ')"
"""


@pytest.fixture(scope="module")
def lvm_guest(tmp_path_factory: pytest.TempPathFactory) -> RealGuest:
    return realsetup.build_real_guest(tmp_path_factory.mktemp("realos-lvm"), "lvm")


def test_live_update_on_luks_lvm_ext4_boots_the_new_state_with_tpm_unlock(
    lvm_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(lvm_guest.disks, tmp_path / "disks")
    write_boot_scripts(disks, {1: LIVE, 2: AFTER}, tmp_path / "scripts")
    stack = lvm_guest.stack

    live = boot(disks, tmp_path, "live install on LVM")
    succeeded(live, "install")
    assert one(live, "stateid") == "1"
    assert "rd.luks.key" not in one(live, "cmdline")  # the TPM unlocked it, nobody typed
    assert one(live, "secureboot") == "1"
    new_entry = [e for e in live["entry"] if "moss.fstx=2" in e]
    assert len(new_entry) == 1, live["entry"]
    words = new_entry[0].split()
    for word in (f"root=UUID={stack.fs_uuid}", f"rd.luks.uuid={stack.luks_uuid}",
                 "rd.lvm.lv=vgmoss/root", "rw"):
        assert word in words, (word, words)
    assert not any(w.startswith("rootflags=") for w in words)

    after = boot(disks, tmp_path, "the new state on LVM")
    assert one(after, "stateid") == "2"
    assert "hello" in one(after, "markers").split()
    assert "rd.luks.key" not in one(after, "cmdline")
    stack_line = one(after, "root-stack").split()
    assert "lvm" in stack_line and "crypt" in stack_line and "ext4" in stack_line, stack_line
