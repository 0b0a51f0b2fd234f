"""Account: the tests that need the real command line
(the rest are in tests/unit/test_account.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import run_cli
from tests.e2e.test_resume import read, write_inputs
from tests.unit.test_account import (
    PREFLIGHT_CASES,
    SAMPLES,
    VALUES,
    create_calls,
    env_for,
    whoami_lines,
    write_values,
)


@pytest.fixture(scope="module")
def sandbox():
    with serve_in_thread(SandboxConfig(rate_limit=1000, rate_window=1.0)) as running:
        yield running


def test_whoami_prints_the_account(sandbox, tmp_path: Path):
    result = run_cli("whoami", env=env_for(sandbox), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == whoami_lines(sandbox.url)
    as_json = json.loads(run_cli("whoami", "--json", env=env_for(sandbox), cwd=tmp_path).stdout)
    assert as_json["api_host"] == sandbox.url and as_json["country"] == "IN"


def test_without_a_host_the_run_finds_the_account_s_own(tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 5)
    with (
        serve_in_thread(SandboxConfig(rate_limit=1000, rate_window=1.0)) as home,
        serve_in_thread(
            SandboxConfig(rate_limit=1000, rate_window=1.0, api_host=home.url.split("//")[1])
        ) as elsewhere,
    ):
        env = env_for(home, LSQ_DISCOVERY_HOST=elsewhere.url)
        del env["LSQ_HOST"]
        who = run_cli("whoami", env=env, cwd=tmp_path)
        result = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
        asked, sent = elsewhere.state.counters, home.state.counters
    assert f"API host:  {home.url}" in who.stdout
    assert result.returncode == 1, result.stderr  # the one bad row
    assert (
        f"no host given: the account Sandbox Realty is served by {home.url}, which this run uses"
    ) in result.stderr
    assert asked["calls:UserByAccessKey.Get"] == 2 and asked["calls:CreateCustom"] == 0
    assert sent["calls:CreateCustom"] == 5
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["host"] == home.url


def test_activity_types_and_fields(sandbox, tmp_path: Path):
    env = env_for(sandbox)
    types = run_cli("activity-types", env=env, cwd=tmp_path)
    assert types.stdout.splitlines() == ["CODE  NAME", "201   Site Visit", "202   Payment Received"]
    lead = run_cli("fields", env=env, cwd=tmp_path).stdout.splitlines()
    assert lead[0].split() == [
        *("SCHEMA", "NAME", "DISPLAY", "NAME", "TYPE", "MANDATORY", "UNIQUE", "MAX", "OPTIONS")
    ]
    assert lead[4].split() == ["EmailAddress", "Email", "Email", "yes", "100"]
    assert lead[8].split()[:3] == ["ProspectStage", "Lead", "Stage"]
    assert lead[8].endswith("Prospect, Opportunity, Customer, Lost")
    assert lead[15].split()[:4] == ["Status", "KYC", "Status", "Select"]  # inside the set
    activity = json.loads(
        run_cli("fields", "--activity", "202", "--json", env=env, cwd=tmp_path).stdout
    )
    assert [f["schema_name"] for f in activity] == [
        "mx_Custom_1",
        "mx_Custom_2",
        "mx_Custom_3",
        "mx_Custom_5",
    ]
    # OptionSet arrives as a JSON-encoded string and is read as a list
    assert activity[1]["options"] == ["cash", "card", "upi", "bank transfer"]
    assert activity[0]["mandatory"] is True
    assert activity[3]["fields"][0]["schema_name"] == "mx_CustomObject_1"


@pytest.mark.parametrize("case", list(PREFLIGHT_CASES))
def test_each_mapping_problem_stops_the_run_before_any_row(sandbox, tmp_path: Path, case):
    text, message = PREFLIGHT_CASES[case]
    data, mapping = write_inputs(tmp_path, 3)
    mapping.write_text(text, encoding="utf-8")
    before = create_calls(sandbox)
    run = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env_for(sandbox))
    check = run_cli("validate", data, "-m", mapping, "--check-account", env=env_for(sandbox))
    assert create_calls(sandbox) == before  # not one row was sent
    for result in (run, check):
        assert result.returncode == 2, result.stdout
        assert result.stderr.splitlines()[0] == f"error: {mapping}: 1 problem in the mapping:"
        assert result.stderr.splitlines()[1] == f"  {message}"
    assert not (tmp_path / "out" / "journal.sqlite").exists()


def test_bad_keys_are_found_by_the_pre_flight(sandbox, tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 3)
    before = create_calls(sandbox)
    env = env_for(sandbox, LSQ_SECRET_KEY="wrong$secret")
    result = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
    assert result.returncode == 3
    assert "Stopped: LeadSquared refused the access key and secret key (HTTP 401)" in result.stderr
    assert "wrong$secret" not in result.stderr + result.stdout
    assert create_calls(sandbox) == before


def test_values_the_fields_will_not_take_fail_without_a_call(sandbox, tmp_path: Path):
    data, mapping = write_values(tmp_path)
    before = create_calls(sandbox)
    check = run_cli("validate", data, "-m", mapping, "--check-account", env=env_for(sandbox))
    run = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env_for(sandbox))
    assert check.returncode == 1, check.stderr
    assert "Problems by mapping path:" in check.stdout
    expected = [
        "  activity.fields.mx_Custom_1  NotAnOption  1 row (3): 'Skyline Tower' is not an option "
        "of mx_Custom_1 (Project); did you mean 'Skyline Towers'?",
        "  lead.attributes.mx_Customer_ID  TooLong  1 row (4): 25 characters, and "
        "mx_Customer_ID (Customer ID) takes at most 20",
        "  activity.fields.mx_Custom_2  WrongType  1 row (5): '12 lakh' is not a number such as "
        "1234.5, as mx_Custom_2 (Budget) (Number) needs; give the rule a type that converts it",
        "  activity.fields.mx_Custom_1  MissingValue  1 row (6): mx_Custom_1 (Project) is "
        "mandatory for 201 (Site Visit): it needs a value",
    ]
    for line in expected:
        assert line in check.stdout.splitlines(), check.stdout
    assert run.returncode == 1, run.stderr
    assert create_calls(sandbox) == before + 1  # only the good row
    failures = {f["_row"]: f["_error_type"] for f in read(tmp_path / "out" / "failures.csv")}
    assert failures == {"3": "NotAnOption", "4": "TooLong", "5": "WrongType", "6": "MissingValue"}
    assert "times are read" not in run.stderr  # the mapping sets its zone


def test_validate_dropdown_options_skips_the_activity_option_check(sandbox, tmp_path: Path):
    data, mapping = write_values(
        tmp_path,
        VALUES.replace(
            "    mx_Custom_2: Budget", "    mx_Custom_2: Budget\n  validate_dropdown_options: true"
        ),
    )
    check = run_cli("validate", data, "-m", mapping, "--check-account", env=env_for(sandbox))
    assert "NotAnOption" not in check.stdout
    assert "TooLong" in check.stdout


def test_the_account_s_zone_and_country_are_the_defaults(sandbox, tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 2)  # MAPPING sets no zone and no country
    result = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env_for(sandbox))
    assert "times are read in the account's time zone, Asia/Kolkata" in result.stderr
    assert "phone numbers default to the account's country, IN" in result.stderr
    first = next(a for a in sandbox.state.activities if a.note == "note 0")
    assert first.activity_datetime == "2026-02-28 18:30:00"  # 01/03/2026 00:00 in India
    saved = json.loads((tmp_path / "out" / "account.json").read_text())
    assert saved["user"]["time_zone"] == "Asia/Kolkata"
    assert [t["code"] for t in saved["activity_types"]] == [201, 202]


def test_no_check_account_sends_without_reading_the_account(sandbox, tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 2)
    before = sandbox.state.counters["calls:LeadsMetaData.Get"]
    result = run_cli(
        *("run", data, "-m", mapping, "--out", tmp_path / "out", "--no-check-account"),
        env=env_for(sandbox),
    )
    assert result.returncode == 1
    assert sandbox.state.counters["calls:LeadsMetaData.Get"] == before
    assert not (tmp_path / "out" / "account.json").exists()


@pytest.mark.parametrize(
    ("sample", "code", "matched"),
    [
        ("site_visits.csv", "201", "11 columns matched; not matched: Stage, KYC Doc"),
        ("payments.xlsx", "202", "7 columns matched; not matched: Receipt No"),
    ],
)
def test_init_mapping_writes_a_mapping_that_validates(sandbox, tmp_path, sample, code, matched):
    out = tmp_path / "m.yaml"
    env = env_for(sandbox)
    made = run_cli("init-mapping", SAMPLES / sample, "--activity", code, "-o", out, env=env)
    assert made.returncode == 0, made.stderr
    assert matched in made.stderr
    check = run_cli("validate", SAMPLES / sample, "-m", out, "--check-account", env=env)
    assert check.returncode == 1, check.stderr  # the samples' bad rows, and nothing else
    assert check.stderr == ""
    text = out.read_text(encoding="utf-8")
    if sample == "site_visits.csv":
        assert '    EmailAddress: {column: "Email", type: email}' in text
        assert (
            '  datetime: {column: "Visit Date", type: datetime, format: "%d/%m/%Y %H:%M"}' in text
        )
        assert '      Status: "KYC Status"  # options: Pending, Verified, Rejected' in text
        assert "294 map, 6 fail" in check.stdout
    else:
        assert '  sheet: "Payments"' in text
        assert 'map: {"Card": "card", "Cash": "cash", "UPI": "upi"}' in text
    again = run_cli("init-mapping", SAMPLES / sample, "--activity", code, "-o", out, env=env)
    assert again.returncode == 2 and "exists; add --force" in again.stderr


def test_init_mapping_without_keys_uses_the_standard_fields(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
    out = tmp_path / "m.yaml"
    made = run_cli(
        "init-mapping",
        SAMPLES / "site_visits.csv",
        "--activity",
        "201",
        "-o",
        out,
        env=env,
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    assert "matching against LeadSquared's standard lead fields" in made.stderr
    check = run_cli("validate", SAMPLES / "site_visits.csv", "-m", out, env=env, cwd=tmp_path)
    assert check.returncode == 1 and check.stderr == ""
    assert "  search_by: EmailAddress" in out.read_text(encoding="utf-8")


def test_unreachable_hosts_name_the_fix(sandbox, tmp_path: Path):
    data, mapping = write_inputs(tmp_path, 2)
    env = env_for(sandbox, LSQ_DISCOVERY_HOST="http://127.0.0.1:9")
    del env["LSQ_HOST"]
    run = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
    assert run.returncode == 2
    assert run.stderr.startswith(
        "error: no host was given, and the account's host could not be found from "
        "http://127.0.0.1:9: http://127.0.0.1:9 did not answer (ClientConnectorError"
    )
    assert run.stderr.rstrip().endswith("Give --host or --region, or set LSQ_HOST")
    who = run_cli("whoami", env=env_for(sandbox, LSQ_HOST="http://127.0.0.1:9"))
    assert who.returncode == 2 and "Traceback" not in who.stderr
    assert "Check the host (--host, --region, LSQ_HOST) and the network" in who.stderr
    unknown = run_cli("fields", "--activity", "999", env=env_for(sandbox))
    assert unknown.returncode == 2
    assert (
        "Invalid value for --activity: 999 is not an activity type of this account: "
        "201 Site Visit; 202 Payment Received"
    ) in unknown.stderr


def test_an_unmapped_mandatory_lead_field_is_a_note(tmp_path: Path):
    from importer.sandbox.schema import default_schema

    schema = default_schema()
    schema.lead_fields[2].mandatory = True  # LastName
    data, mapping = write_inputs(tmp_path, 2)
    with serve_in_thread(SandboxConfig(rate_limit=1000, rate_window=1.0, schema=schema)) as box:
        result = run_cli("validate", data, "-m", mapping, "--check-account", env=env_for(box))
    assert result.returncode == 1  # the bad row only: the note does not stop anything
    assert (
        "  mandatory lead fields not mapped: LastName (Last Name): rows whose lead does not "
        "exist yet will be rejected (MXMandatoryAttributeMissingException)"
    ) in result.stdout.splitlines()


def test_a_malformed_host_url_is_a_config_error(sandbox, tmp_path: Path):
    message = (
        "  host: 'http://[::1' is not a valid URL (Invalid IPv6 URL): give a host such as "
        "https://api-in21.leadsquared.com, or --region"
    )
    from_env = run_cli("whoami", env=env_for(sandbox, LSQ_HOST="http://[::1"), cwd=tmp_path)
    from_option = run_cli("account", "--host", "http://[::1", env=env_for(sandbox), cwd=tmp_path)
    for result in (from_env, from_option):
        assert result.returncode == 2
        assert result.stderr.splitlines() == ["error: 1 problem:", message]


def test_a_plain_http_host_named_by_the_account_gets_no_key(tmp_path: Path):
    # a host given by hand must be HTTPS off loopback; so must the one the account names
    named = "http://203.0.113.7:8080"
    config = SandboxConfig(rate_limit=1000, rate_window=1.0, api_host=named)
    data, mapping = write_inputs(tmp_path, 2)
    with serve_in_thread(config) as box:
        env = env_for(box, LSQ_DISCOVERY_HOST=box.url)
        del env["LSQ_HOST"]
        who = run_cli("whoami", env=env, cwd=tmp_path)
        run = run_cli("run", data, "-m", mapping, "--out", tmp_path / "out", env=env)
        asked = box.state.counters
    message = (
        "error: no host was given, and the host the account names (UserByAccessKey.Get) is not "
        f"one to send the keys to: '{named}' is plain HTTP: LeadSquared needs HTTPS (http is "
        "allowed for loopback only). Give --host or --region, or set LSQ_HOST"
    )
    for result in (who, run):
        assert result.returncode == 2
        assert result.stderr.splitlines() == [message]
    assert asked["calls:UserByAccessKey.Get"] == 2 and asked.get("calls:CreateCustom", 0) == 0
    assert not (tmp_path / "out" / "journal.sqlite").exists()
