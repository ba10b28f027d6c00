"""Both sides of the window between the live ``/usr`` exchange and the end of boot sync.

moss exchanges ``/usr`` first and then syncs the boot entries, so for a moment the
new state runs while the ESP's default entry (``LoaderEntryLastBooted``) still
names the old one.  A power cut in that window boots the old state: either the
exchange had not reached the disk yet (ext4 commits its journal every few
seconds; seen here), or the agent sees ``moss.fstx`` of the old state and
activates it again, keeping the new one archived (bootable from the menu, ``moss
state activate``).  Once the variable is written, a cut boots the new state.
Either way the system is one complete state, never a mix; this test pins which,
and that the first moss command after the cut says the update was interrupted.

A cut at an exact point: ``MOSS_KILL_AT=<checkpoint>`` makes moss SIGKILL itself
there, and the guest then powers off through ``/proc/sysrq-trigger`` at once —
nothing of the page cache is written, as in a power cut.
"""

from __future__ import annotations

from pathlib import Path

import realsetup
import realvm
from realboots import boot, one, succeeded
from realsetup import STONES, RealGuest, write_boot_scripts

hard_timeout = realsetup.hard_timeout

CHECK = """
say markers "$(ls /usr/share/qemu-guest | tr '\\n' ' ')"
step verify moss state verify
"""


def cut_at(point: str, stone: str) -> str:
    """Install ``stone`` live, SIGKILL moss at ``point`` ("" = let it finish), cut power."""
    env = f"MOSS_KILL_AT={point} " if point else ""
    return f"""
say before-cut "$(cat /usr/.stateID)"
{env}moss -y install {STONES}/{stone}.stone > $R/cut.out 2>&1
say moss-exit "$?"
say cut-out "$(tr '\n' '|' < $R/cut.out | head -c 1500)"
echo o > /proc/sysrq-trigger
sleep 600
"""


# (checkpoint, package, the state the next boot must run: the one before or the new one)
CUTS = [
    ("activate:exchanged", "hello", "old"),  # in the window: the agent rolls back
    ("boot-efivar-written", "hello2", "new"),  # the default entry names the new state
    ("", "hello3", "new"),  # finished, then the power goes at once
]


def test_a_cut_after_the_exchange_boots_the_old_state_and_after_the_sync_the_new(
    real_guest: RealGuest, tmp_path: Path
) -> None:
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    scripts = {1: cut_at(*CUTS[0][:2])}
    for n, (point, stone, _) in enumerate(CUTS[1:], start=2):
        scripts[n] = CHECK + cut_at(point, stone)
    scripts[len(CUTS) + 1] = CHECK + f"step next moss -y install {STONES}/hello4.stone\n"
    write_boot_scripts(disks, scripts, tmp_path / "scripts")

    previous = boot(disks, tmp_path, "cut 1", powered_off=True)
    for n, (point, stone, side) in enumerate(CUTS, start=1):
        expected_exit = "0" if not point else "137"
        assert one(previous, "moss-exit") == expected_exit, previous.get("moss-exit")
        values = boot(disks, tmp_path, f"after the cut at {point or 'the end'}",
                      powered_off=n < len(CUTS))
        before = int(one(previous, "before-cut"))
        running = int(one(values, "stateid"))
        markers = one(values, "markers").split()
        if side == "old":
            assert running == before and stone not in markers, (running, markers)
            # The first moss command of that boot (`state verify`) says what was lost.
            said = " ".join(values.get("out-verify", []))
            assert f"state {before + 1}" in said and "interrupted" in said, said
            assert "interrupted" not in one(values, "cut-out")  # and says it once
        else:
            assert running > before and stone in markers, (running, markers)
        assert f"moss.fstx={running}" in one(values, "cmdline").split()
        succeeded(values, "verify")
        print(f"[realos] cut at {point or 'the end'}: state {before} -> {running} ({side}); "
              f"agent: {one(values, 'pivot')}")
        previous = values
    succeeded(previous, "next")
