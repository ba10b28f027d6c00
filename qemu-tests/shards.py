"""Splitting the QEMU tests into shards that run side by side (``--shard K/N``).

A TCG guest keeps one host core busy; the CI machine has two.  ``scripts/test.sh``
runs the suite as two pytest processes, each booting its own guests, beside the
fast tests.  The split is by each test's expected seconds (measured under TCG on a
loaded 2-core host; the real-OS guest's on its Secure Boot machine, 2026-12-06),
longest first, each to the shard with the least so far: deterministic, so both
processes agree on it without talking.
"""

from __future__ import annotations

import pytest

# Power-on to power-off of a test's boots plus its moss commands, in seconds.
EXPECTED = {
    "test_default_boot_reaches_the_newest_state": 30,
    "test_deferred_kernel_update_goes_live_at_the_next_boot": 30,
    "test_entry_of_a_deleted_state_boots_the_current_one": 30,
    "test_menu_choice_of_an_older_state_sticks": 60,
    "test_failing_pending_state_is_tried_three_times_then_rolled_back": 150,
    "test_deferred_kernel_blessed_by_moss_boot_bless_stays_for_three_boots": 110,
    "test_hardware_subscription_keeps_exactly_the_modules_of_the_guests_devices": 60,
    "test_live_update_under_running_processes_finds_the_esp_and_boots_the_new_state": 350,
    "test_deferred_kernel_update_runs_at_the_next_boot_and_is_blessed": 550,
    "test_unblessed_pending_state_is_tried_three_times_then_rolled_back": 550,
    "test_menu_choice_of_the_previous_state_on_the_real_os": 350,
    "test_a_system_trigger_runs_once_after_a_live_install_and_its_unit_starts": 200,
    "test_live_update_on_luks_lvm_ext4_boots_the_new_state_with_tpm_unlock": 400,
    "test_a_tampered_image_is_refused_and_the_previous_state_still_boots": 400,
    "test_a_cut_after_the_exchange_boots_the_old_state_and_after_the_sync_the_new": 700,
}
PER_CUT = 330  # one boot: the check of the last cut (verify), a transaction, the cut
UNKNOWN = 120


def parse(value: str) -> tuple[int, int]:
    """``K/N`` with 1 <= K <= N."""
    number, _, count = value.partition("/")
    try:
        k, n = int(number), int(count)
    except ValueError:
        raise pytest.UsageError(f"--shard takes K/N, as in 1/2, not {value!r}") from None
    if not 1 <= k <= n:
        raise pytest.UsageError(f"--shard {value}: K must be between 1 and N")
    return k, n


def expected_seconds(item: pytest.Item) -> int:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "chain" in callspec.params:
        return 60 + PER_CUT * cuts_of_chain(int(callspec.params["chain"]))
    return EXPECTED.get(getattr(item, "originalname", item.name), UNKNOWN)


def cuts_of_chain(chain: int, total: int | None = None, chains: int = 2) -> int:
    """Chain 1 takes the odd cut out: 10 is 5 + 5, 5 is 3 + 2."""
    import realsetup

    total = realsetup.CUTS if total is None else total
    return total // chains + (1 if chain <= total % chains else 0)


def select(items: list[pytest.Item], shard: int, shards: int) -> list[pytest.Item]:
    """The items of one shard, in their collected order."""
    load = [0] * shards
    owner: dict[str, int] = {}
    for item in sorted(items, key=lambda i: (-expected_seconds(i), i.nodeid)):
        least = load.index(min(load))
        owner[item.nodeid] = least
        load[least] += expected_seconds(item)
    return [item for item in items if owner[item.nodeid] == shard - 1]
