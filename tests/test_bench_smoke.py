"""The benchmarks still run: each module at tiny sizes gives well-formed rows.

No timing is asserted (the machines are shared); what is checked is what a reader
of the table relies on: every row names its figure and baseline, has a positive
value and baseline in a known unit, and a figure that was not measured says why.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench import (
    activation,
    blit,
    boot_sync,
    dedup,
    dracut_bytes,
    fleet,
    growth,
    install,
    pivot_time,
    prune,
    qemu_share,
    reflink,
    repo_query,
    resolve,
    stone_memory,
)
from bench.__main__ import main as bench_main
from bench.common import Result

needs_ostree = pytest.mark.skipif(shutil.which("ostree") is None,
                                  reason="ostree is not installed (apt-get install ostree)")


def check_rows(rows: list[Result]) -> None:
    assert rows
    for row in rows:
        assert row.name and row.baseline_name
        assert row.unit in ("s", "B")
        if row.value is None or row.baseline is None:
            assert row.note.startswith("not measured"), row
            continue
        assert row.value > 0 and row.baseline > 0, row
        assert row.ratio is not None and math.isfinite(row.ratio)
        assert json.loads(json.dumps(row.to_json()))["ratio"] == row.ratio


@needs_ostree
def test_blit_against_link_loop_cp_and_ostree() -> None:
    rows = blit.measure(200, 1)
    check_rows(rows)
    assert [r.baseline_name for r in rows] == [
        "os.link loop (limit)", "cp -al", "ostree checkout -H"]


def test_reflink_rows_on_btrfs_and_xfs() -> None:
    """Measured where root can loop-mount an image (CI), else labelled rows; where
    measured, the note says the store stayed intact after a write through the tree."""
    rows = reflink.measure(100, 1)
    check_rows(rows)
    assert {r.name.split(":")[0] for r in rows} == {
        "blit by reflink on btrfs", "blit by reflink on xfs"}
    for row in rows:
        assert row.value is None or "store intact after a write through the tree: yes" \
            in row.note, row


def test_prune_against_rm_rf_with_progress() -> None:
    rows = prune.measure(2, 5, 1)
    check_rows(rows)
    assert rows[0].note.startswith("progress: ") and "Removing unused blobs 9/9" in rows[0].note


def test_repository_queries_against_start_up() -> None:
    rows = repo_query.measure(50, 1)
    check_rows(rows)
    assert [r.name.split(",")[0] for r in rows] == [
        "repo query: search", "repo query: info", "repo query: list available"]


def test_dracut_bytes_with_and_without_the_module() -> None:
    rows = dracut_bytes.run(True)
    check_rows(rows)
    assert rows[0].value is None or "90moss adds" in rows[0].note


@needs_ostree
def test_install_against_limit_and_ostree() -> None:
    rows = install.measure(3, 5, 1)
    check_rows(rows)
    assert len(rows) == 2


def test_growth_rows_per_size() -> None:
    rows = growth.measure((2, 4), (100, 300))
    check_rows(rows)
    assert [r.name for r in rows] == [
        "growth: install of 4 packages", "growth: peak memory, install of 4 packages",
        "growth: blit of 300 files", "growth: peak memory, blit of 300 files"]
    assert rows[0].baseline_name == "2 packages × 2 (linear)"


def test_growth_peak_is_the_childs_own() -> None:
    """A large parent's RSS must not reach a child's figure (ru_maxrss would carry it)."""
    ballast = bytearray(400 << 20)
    for i in range(0, len(ballast), 4096):
        ballast[i] = 1  # touched: resident
    code = "from bench.growth import high_water_mark; print(high_water_mark())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=Path(__file__).parent.parent).stdout
    assert int(out) < 200 << 20
    del ballast


def test_activation_rows_per_size() -> None:
    rows = activation.measure([50, 300], 2)
    check_rows(rows)
    assert [r.name for r in rows] == ["activate: state of 300 files",
                                      "activate: exchange step alone, 300 files"]


def test_dedup_ten_states_cost_more_than_one_and_less_than_ten() -> None:
    one_state, limit = dedup.measure(10, 4)
    check_rows([one_state, limit])
    assert one_state.value is not None and one_state.baseline is not None
    assert one_state.baseline < one_state.value < 10 * one_state.baseline


def test_resolve_against_bfs_and_libsolv() -> None:
    rows = resolve.measure(300, 1)
    check_rows(rows)
    assert rows[0].baseline_name == "dict BFS (limit)"


def test_boot_sync_keeps_each_kernel_once_on_the_esp() -> None:
    rows = boot_sync.measure(1, 1, 1)
    check_rows(rows)
    on_esp = rows[1]
    assert on_esp.unit == "B" and on_esp.ratio is not None and on_esp.ratio < 1.1


def test_pivot_native() -> None:
    rows = pivot_time.run(quick=True)
    check_rows(rows)
    assert [r.baseline_name for r in rows] == ["python3 -I -S start-up"] * 2


def test_qemu_share_from_the_qemu_tests_report_line() -> None:
    line = ("[qemu] default boot: 23.7 s power-on to power-off; init at 14.81 s kernel time; "
            "agent: 83 ms of work (0.6% of the kernel's time to init), 1.92 s from root "
            "mount to its line, line at 11.94 s")
    work, gap = qemu_share.parse(f"noise\n{line}\n.\n")
    check_rows([work, gap])
    assert (work.value, work.baseline) == (0.083, 14.81)
    assert (gap.value, gap.baseline) == (1.92, 14.81)
    older = "[qemu] default boot: 21.0 s; agent 70 ms = 0.5% of the kernel's 14.00 s to init"
    assert [(r.value, r.baseline) for r in qemu_share.parse(older)] == [(0.07, 14.0)]
    with pytest.raises(RuntimeError):
        qemu_share.parse("1 passed")
    check_rows([qemu_share.placeholder()])


def test_install_peak_memory() -> None:
    check_rows(stone_memory.measure_install(2, 1))


def test_main_prints_the_table_and_writes_json(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.json"
    assert bench_main(["--quick", "--only", "resolve", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads(out.read_text())
    assert report["failed"] == [] and report["results"]
    for row in report["results"]:
        assert row["name"] in printed
    assert bench_main(["--quick", "--only", "qemu"]) == 0  # without --qemu: a labelled row
    assert "not measured in this run" in capsys.readouterr().out


def test_fleet_rows_with_and_without_deltas() -> None:
    rows = fleet.run(True, files=12, size=4000, clients=2)
    check_rows(rows)
    if rows[0].value is not None:
        assert "peak connections" in rows[-1].note
        assert "byte-identical" in rows[0].note
