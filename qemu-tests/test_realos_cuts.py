"""Power cuts during a live ``moss install`` on the real OS (scenario 4 of issue 15).

``MOSS_QEMU_CUTS`` cuts (10 by default) in two chains, each on its own copy of the
base disks, so ``scripts/test.sh`` runs them side by side (``shards.py``).
One disk per chain, one boot per cut.  Boot 1 times an uncut update of ``bulk`` (1500
files) inside the guest: that is the window.  Every later boot first checks
what the previous cut left — it came up without help from the ESP's default
entry (``moss.fstx`` is the running state), in the old or the new state,
``moss state verify`` is clean, a new transaction succeeds — then starts the
next update of ``bulk`` and the host kills QEMU at an instant drawn uniformly
over the window (the shortest update seen so far; seeded: the seed a chain prints,
given as ``MOSS_QEMU_CUT_SEED``, replays that chain).  A kill loses what the guest
had not yet handed to its disk (its page cache), which is what a power cut loses.
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path

import guest
import pytest
import realsetup
import realvm
import shards
from realboots import BOOT_TIMEOUT, SILENCE, boot, guest_lines, one, succeeded
from realsetup import STONES, RealGuest, write_boot_scripts

hard_timeout = realsetup.hard_timeout

CALIBRATE = f"""
step calibrate moss -y install {STONES}/bulk-2.stone
say bulk "$(cat /usr/share/qemu-guest/bulk)"
"""

# What every boot after a cut checks (boot n); then (CUT) the next update, killed.
CHECK = f"""
say bulk "$(cat /usr/share/qemu-guest/bulk)"
# each cut is a non-orderly TPM shutdown: the dictionary-attack counter it moved
say tpm-lockout "$(TPM2TOOLS_TCTI=device:/dev/tpmrm0 tpm2_getcap properties-variable |
    grep LOCKOUT_COUNTER | tr -d ' ')"
step verify moss state verify
step next moss -y install {STONES}/mark$n.stone
"""
CUT = f"""
say before-cut "$(cat /usr/.stateID) $(cat /usr/share/qemu-guest/bulk)"
say cut-open "$n"
step cut moss -y install {STONES}/bulk-$((n + 1)).stone
say cut-missed "$n"
sleep 3600
"""


def seed() -> int:
    value = os.environ.get("MOSS_QEMU_CUT_SEED")
    return int(value) if value else random.SystemRandom().randrange(1 << 31)


def window_seconds(values: dict[str, list[str]]) -> float:
    succeeded(values, "calibrate")
    return int(one(values, "cmd-calibrate").split("ms=")[1]) / 1000


def check_after_cut(values: dict[str, list[str]], before: str, cut_release: int) -> str:
    """The boot after a cut: old or new state, from the default entry, clean, usable."""
    state, bulk = before.split()
    running = one(values, "stateid")
    now_bulk = one(values, "bulk")
    new = f"bulk-1.0-{cut_release}"
    assert now_bulk in (bulk, new), f"bulk is {now_bulk}, neither {bulk} nor {new}"
    if now_bulk == bulk:
        assert running == state, f"old content but state {running}, not {state}"
    else:
        assert int(running) > int(state)
    assert f"moss.fstx={running}" in one(values, "cmdline").split(), one(values, "cmdline")
    succeeded(values, "verify")
    succeeded(values, "next")
    return "new" if now_bulk == new else "old"


@pytest.mark.parametrize("chain", [1, 2], ids=["chain-1", "chain-2"])
def test_power_cuts_during_a_live_update_leave_a_bootable_complete_state(
    real_guest: RealGuest, tmp_path: Path, chain: int
) -> None:
    cuts = shards.cuts_of_chain(chain)
    if cuts == 0:
        pytest.skip(f"MOSS_QEMU_CUTS={realsetup.CUTS} leaves no cut for chain {chain}")
    chosen = seed()
    rng = random.Random(f"{chosen}-{chain}")
    print(f"\n[realos] power cuts, chain {chain}: {cuts} of MOSS_QEMU_CUTS={realsetup.CUTS}, "
          f"MOSS_QEMU_CUT_SEED={chosen}")
    disks = realvm.copy_disks(real_guest.disks, tmp_path / "disks")
    last = cuts + 2
    scripts = {1: CALIBRATE, last: CHECK}
    scripts.update({n: CHECK + CUT for n in range(2, last)})
    write_boot_scripts(disks, scripts, tmp_path / "scripts")

    window = window_seconds(boot(disks, tmp_path, "calibration"))
    outcomes = []
    before = ""
    for n in range(2, last):
        machine = realvm.RealMachine(disks, tmp_path / f"cut-{n}")
        machine.start()
        try:
            log = machine.run_until("GUEST cut-open=", BOOT_TIMEOUT, SILENCE)
            opened = time.monotonic()
            instant = rng.uniform(0, window)
            time.sleep(max(0.0, instant - (time.monotonic() - opened)))
            machine.stop()
            log = machine.log()
        finally:
            machine.stop()
        values = guest_lines(log)
        print(f"[realos] after cut {n - 1}, on the disks: entries "
              f"{realvm.esp_listing(disks, 'loader/entries')}, LoaderEntryLastBooted "
              f"{guest.read_var(disks.vars, 'LoaderEntryLastBooted')}")
        if before:
            outcomes.append(check_after_cut(values, before, n))
        before = one(values, "before-cut")
        missed = "inside"
        if values.get("cut-missed"):
            # the update ran faster than the window: shrink it to what was seen
            succeeded(values, "cut")
            took = int(one(values, "cmd-cut").split("ms=")[1]) / 1000
            missed = f"after the end at {took:.2f} s"
            window = min(window, took)
        print(f"[realos] cut {n - 1}: {instant:.2f} s of {window:.2f} s ({missed}); "
              f"booted state {one(values, 'stateid')} ({outcomes[-1] if outcomes else 'first'}), "
              f"{values.get('tpm-lockout', ['?'])[0]} (of 32)")

    final = boot(disks, tmp_path, "after the last cut")
    outcomes.append(check_after_cut(final, before, last))
    print(f"[realos] power cuts, chain {chain}: came up in {outcomes}")
