"""An activity is credited to one row only: two identical rows for one lead (two equal payments,
no date-time), the second interrupted between its journal mark and its send, and the real
command resumed. Made deterministic through the journal, never by timing: a run sends both,
then the journal is put back as a kill between row 3's mark and its send would have left it
(and the sandbox forgets row 3's activity, which that call never posted)."""

from __future__ import annotations

import csv
import os
import sqlite3
from collections import Counter
from contextlib import closing
from pathlib import Path

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import ROOT, run_cli
from tests.unit.test_run import MAPPING, read

#: No date-time: two equal payments can be told apart by nothing but their ids.
UNDATED = MAPPING.replace('  datetime: {column: When, format: "%d/%m/%Y %H:%M"}\n', "")
PAYMENT = ["payer@example.com", "Payer", "payment 500", "", "Skyline Towers"]


def write(folder: Path) -> tuple[Path, Path]:
    data = folder / "in.csv"
    with open(data, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Name", "Note", "When", "Project"])
        writer.writerows(
            [PAYMENT, PAYMENT, ["other@example.com", "Other", "visit", "", "Skyline Towers"]]
        )
    mapping = folder / "m.yaml"
    mapping.write_text(UNDATED, encoding="utf-8")
    return data, mapping


def test_the_second_of_two_identical_rows_resumed_is_posted_not_credited_the_first(
    tmp_path: Path,
):
    assert "datetime" not in UNDATED
    data, mapping = write(tmp_path)
    out = tmp_path / "out"
    command = ("run", data, "-m", mapping, "--out", out, "--rate", "100/1s", "--quiet")
    with serve_in_thread(SandboxConfig(rate_limit=100, rate_window=1.0, seed=21)) as sandbox:
        env = {
            **os.environ,
            "LSQ_HOST": sandbox.url,
            "LSQ_ACCESS_KEY": sandbox.access_key,
            "LSQ_SECRET_KEY": sandbox.secret_key,
            "PYTHONPATH": str(ROOT),
        }
        first = run_cli(*command, env=env, cwd=tmp_path)
        assert first.returncode == 0, first.stderr
        ids = {int(line["_row"]): line["_activity_id"] for line in read(out / "success.csv")}
        assert len(set(ids.values())) == 3
        # row 3 as a kill right after its mark leaves it: 'sending', its call never answered
        # (an hour ago: the run does not wait for a call that may still be running)
        with closing(sqlite3.connect(out / "journal.sqlite")) as db, db:
            db.execute(
                "UPDATE rows SET state = 'sending', activity_id = NULL, lead_id = NULL, "
                "sent_at = strftime('%Y-%m-%d %H:%M:%f', sent_at, '-1 hour'), "
                "last_sent_at = strftime('%Y-%m-%d %H:%M:%f', last_sent_at, '-1 hour') "
                "WHERE row = 3"
            )
            db.execute(
                "UPDATE attempts SET outcome = 'in_flight', answered_at = NULL, status = NULL, "
                "activity_id = NULL WHERE row = 3"
            )
        # ... and that call never reached the server
        sandbox.state.activities = [a for a in sandbox.state.activities if a.id != ids[3]]
        before = sandbox.state.counters["calls:CreateCustom"]
        resumed = run_cli(*command, env=env, cwd=tmp_path)
        sent = sandbox.state.counters["calls:CreateCustom"] - before
        payments = [a for a in sandbox.state.activities if a.note == "payment 500"]

    assert resumed.returncode == 0, resumed.stderr
    assert sent == 1  # row 3, posted: the first payment's activity is row 2's
    assert len(payments) == 2  # both payments are on the lead
    success = {int(line["_row"]): line for line in read(out / "success.csv")}
    assert sorted(success) == [2, 3, 4]
    assert success[2]["_activity_id"] == ids[2]
    assert success[3]["_activity_id"] not in (ids[2], ids[3])
    assert {success[2]["_activity_id"], success[3]["_activity_id"]} == {a.id for a in payments}
    assert Counter(line["_activity_id"] for line in success.values()).most_common(1)[0][1] == 1
    with closing(sqlite3.connect(out / "journal.sqlite")) as db:
        history = db.execute(
            "SELECT call, outcome, error FROM attempts WHERE row = 3 ORDER BY attempt"
        ).fetchall()
    assert history == [
        ("CreateCustom", "in_flight", None),
        ("check", "not_landed", f"passed over {ids[2]}: identical, and another row's"),
        ("CreateCustom", "success", None),
    ]
