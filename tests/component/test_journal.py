"""Journal: the tests that need the sandbox server
(the rest are in tests/unit/test_journal.py)."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

from tests.unit.test_journal import downgrade_to_version_2, entries


async def test_a_version_2_journal_left_by_an_earlier_run_resumes(tmp_path: Path):
    from collections import Counter

    from tests.unit.test_run import rows, run_against, sandbox

    data = rows(8)
    first = await run_against(tmp_path, data, sandbox())
    assert first.summary.succeeded == 8
    journal = tmp_path / "out" / "journal.sqlite"
    downgrade_to_version_2(journal)
    with closing(sqlite3.connect(journal)) as db, db:  # the v2 run was stopped by bad keys
        db.execute(
            "UPDATE rows SET state = 'failed', activity_id = NULL, lead_id = NULL, "
            "error_type = CASE row WHEN 6 THEN 'Unauthorized' ELSE 'NotSent' END, error = 'x' "
            "WHERE row >= 6"
        )
    resumed = await run_against(tmp_path, data, sandbox())  # a new sandbox: it holds nothing
    assert resumed.summary.exit_code == 0
    assert resumed.summary.done_before == 4
    assert resumed.activities_per_row() == Counter({f"note {i}": 1 for i in range(4, 8)})
    assert sorted(int(line["_row"]) for line in resumed.success) == list(range(2, 10))
    assert [(row, outcome) for row, _, _, outcome, *_ in entries(journal)] == [
        (row, "success") for row in range(6, 10)
    ]
