"""calls.jsonl: every call on its own line with its real outcome, the pre-flight's and the
lookups' included, and no row data in it unless --log-payloads."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import pytest

from importer.errors import LookupFailed
from importer.failures import Verdict
from importer.outputs.calllog import CallLog
from importer.sandbox import SandboxConfig, serve_in_thread
from importer.sending.client import CREATE_CUSTOM, Counters, LeadSquaredClient, classify_read
from importer.sending.connection import Connection
from importer.sending.limiter import Rate, RateLimiter
from tests.conftest import run_cli
from tests.unit.test_run import MAPPING

PRE_FLIGHT = ["ActivityTypes.Get", "GetActivitySetting", "LeadsMetaData.Get", "UserByAccessKey.Get"]
LOOKUPS = ("Leads.GetByEmailaddress", "Retrieve")
#: What a line says of a call, without --log-payloads: never more.
PLAIN_FIELDS = {"time", "event", "call", "row", "ms", "status", "outcome"}


def write_people(folder: Path, count: int) -> tuple[Path, Path]:
    data = folder / "in.csv"
    with open(data, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Email", "Name", "Note", "When", "Project"])
        for i in range(count):
            writer.writerow(
                [
                    f"zelda.quixote{i}@example.org",
                    f"Zelda Quixote {i}",
                    f"note {i}",
                    "01/03/2026 10:0" + str(i),
                    "Skyline Towers",
                ]
            )
    mapping = folder / "m.yaml"
    mapping.write_text(MAPPING, encoding="utf-8")
    return data, mapping


def read_log(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def run_with_every_answer_lost(tmp_path: Path, out: Path, *extra: str) -> tuple[int, int]:
    """The real command against a sandbox that writes every CreateCustom and then drops its
    answer: the run's exit code, and the activities the sandbox holds afterwards."""
    data, mapping = write_people(tmp_path, 3)
    config = SandboxConfig(rate_limit=1000, rate_window=1.0, drop_rate=1.0, seed=5)
    with serve_in_thread(config) as sandbox:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
        env |= {
            "LSQ_HOST": sandbox.url,
            "LSQ_ACCESS_KEY": sandbox.access_key,
            "LSQ_SECRET_KEY": sandbox.secret_key,
        }
        result = run_cli(
            *("run", data, "-m", mapping, "--out", out, "--rate", "1000/1s", *extra),
            env=env,
            cwd=tmp_path,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result.returncode, len(sandbox.state.activities)


# --- what one answer makes of its line -----------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "text", "verdict", "data"),
    [
        (
            200,
            '[{"ProspectID": "p1", "EmailAddress": "a@b.org"}]',
            Verdict.SUCCESS,
            [{"ProspectID": "p1", "EmailAddress": "a@b.org"}],
        ),
        (
            200,
            '{"RecordCount": 0, "ProspectActivities": []}',
            Verdict.SUCCESS,
            {"RecordCount": 0, "ProspectActivities": []},
        ),
        (200, "[]", Verdict.SUCCESS, []),
        (
            200,
            '{"Status": "Success", "Message": {"Id": "a"}}',
            Verdict.SUCCESS,
            {"Status": "Success", "Message": {"Id": "a"}},
        ),
        (200, "<html>maintenance</html>", Verdict.TRANSIENT, None),
        (200, "[" * 100_000, Verdict.TRANSIENT, None),  # too deep to read
        (
            200,
            '{"Status": "Error", "ExceptionType": "MXAPIRateLimitExceededException"}',
            Verdict.THROTTLED,
            None,
        ),
        (
            200,
            '{"Status": "Error", "ExceptionType": "MXInvalidInputException"}',
            Verdict.REJECTED,
            None,
        ),
        (
            200,
            '{"Status": "Error", "ExceptionType": "MXInvalidUserDetailsException"}',
            Verdict.FATAL,
            None,
        ),
        (500, '[{"ProspectID": "p1"}]', Verdict.TRANSIENT, None),
        (401, "[]", Verdict.FATAL, None),
        (429, "[]", Verdict.THROTTLED, None),
    ],
)
def test_classify_read(status: int, text: str, verdict: Verdict, data: Any):
    answer, read = classify_read(status, text)
    assert (answer.verdict, read) == (verdict, data)


class _Answering:
    """An aiohttp session that answers every request with one status and body."""

    def __init__(self, status: int, text: str) -> None:
        self.status, self._text = status, text

    def request(self, *args: Any, **kwargs: Any) -> _Answering:
        return self

    async def __aenter__(self) -> _Answering:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    async def text(self, errors: str = "strict") -> str:
        return self._text


def client_for(tmp_path: Path, status: int, text: str, payloads: bool) -> LeadSquaredClient:
    return LeadSquaredClient(
        _Answering(status, text),  # type: ignore[arg-type]
        Connection("http://127.0.0.1:9", "u$access", "secret$key"),
        RateLimiter(Rate(1000, 1.0)),
        Counters(),
        log=CallLog(tmp_path / "calls.jsonl", payloads),
        host_answered=True,
    )


ECHOING = "<html><h1>500</h1>no lead zelda.quixote0@example.org</html>"
MX = '{"Status": "Error", "ExceptionType": "MXInvalidInputException", "ExceptionMessage": "zelda.quixote0@example.org is not valid"}'


@pytest.mark.parametrize("payloads", [False, True])
async def test_a_row_s_error_answer_is_logged_by_type_and_status_unless_payloads(
    tmp_path: Path, payloads: bool
):
    lookup = client_for(tmp_path, 500, ECHOING, payloads)
    with pytest.raises(LookupFailed) as failed:
        await lookup.lookup("GET", "/v2/L/Leads.GetByEmailaddress", attempts=1, row=2)
    create = client_for(tmp_path, 500, MX, payloads)
    status, text = await create.send("POST", CREATE_CUSTOM, body={"LeadDetails": []}, row=3)
    assert status == 500
    metadata = client_for(tmp_path, 500, MX, payloads)
    with pytest.raises(LookupFailed):
        await metadata.lookup("GET", "/v2/L/LeadsMetaData.Get", attempts=1)
    for client in (lookup, create, metadata):
        client.link.close()
    assert "zelda" in str(failed.value) and text == MX  # the run itself still has the message
    lines = read_log(tmp_path / "calls.jsonl")
    assert [
        (line["call"], line.get("row"), line["status"], line["error_type"]) for line in lines
    ] == [
        ("Leads.GetByEmailaddress", 2, 500, "HTTP500"),
        ("CreateCustom", 3, 500, "MXInvalidInputException"),
        ("LeadsMetaData.Get", None, 500, "MXInvalidInputException"),
    ]
    assert [line["outcome"] for line in lines] == ["transient", "rejected", "rejected"]
    assert "zelda" in lines[2]["error"]  # no row's call: the account's answer is kept whole
    for line in lines[:2]:
        assert ("zelda" in line["error"]) is payloads, line


async def test_a_throttle_s_message_is_kept_for_a_row_s_call(tmp_path: Path):
    body = '{"Status": "Error", "ExceptionType": "MXAPIRateLimitExceededException", "ExceptionMessage": "API calls exceeded the limit of 25 in 5 second(s)"}'
    client = client_for(tmp_path, 429, body, payloads=False)
    await client.send("POST", CREATE_CUSTOM, body={}, row=2)
    client.link.close()
    (line,) = read_log(tmp_path / "calls.jsonl")
    assert line["outcome"] == "throttled"
    assert line["error"] == "API calls exceeded the limit of 25 in 5 second(s)"
