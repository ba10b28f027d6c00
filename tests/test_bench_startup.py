"""The start-up benchmark still runs: one round of each command gives well-formed rows.

No timing is asserted (issue 18: the budget is tests/cli/test_import_budget.py's, by
what is imported); this checks the rows a reader of the table relies on.
"""

from __future__ import annotations

from bench import startup
from tests.test_bench_smoke import check_rows


def test_startup_rows_against_python_itself() -> None:
    rows = startup.measure(1)
    check_rows(rows)
    names = [r.name for r in rows]
    assert names[:4] == ["startup: moss --version", "startup: moss --help",
                         "startup: moss state list (2 states)",
                         "startup: moss info NAME (installed)"]
    assert {r.baseline_name for r in rows} == {"python -I -c pass"}
