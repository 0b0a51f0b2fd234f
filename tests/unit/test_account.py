"""Knowing the account before sending: whoami and host discovery, activity-types, fields, the
pre-flight check of a mapping and its values (in validate and at the start of run), and
init-mapping. All against the sandbox, whose schema is the account; every pre-flight test checks
that no CreateCustom call was made."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from importer.account import api_url, parse_fields, parse_user
from importer.sandbox import SandboxConfig, serve_in_thread
from tests.conftest import ROOT, run_cli
from tests.test_resume import read, write_inputs
from tests.test_run import MAPPING

SAMPLES = ROOT / "data_samples"


@pytest.fixture(scope="module")
def sandbox():
    with serve_in_thread(SandboxConfig(rate_limit=1000, rate_window=1.0)) as running:
        yield running


def env_for(sandbox, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
    return {
        **env,
        "LSQ_HOST": sandbox.url,
        "LSQ_ACCESS_KEY": sandbox.access_key,
        "LSQ_SECRET_KEY": sandbox.secret_key,
        **extra,
    }


def create_calls(sandbox) -> int:
    return sandbox.state.counters["calls:CreateCustom"]


# --- discovery -------------------------------------------------------------------------------


def whoami_lines(url: str) -> list[str]:
    """What whoami prints for the sandbox's account (the docs' sample, filled in)."""
    return [
        "User:      Sandbox Admin <admin@sandbox.example>",
        "Role:      Administrator",
        "Org:       Sandbox Realty (5f0c8a4e-41d2-4c36-9a51-6d3f00a41000)",
        f"API host:  {url}",
        "Time zone: Asia/Kolkata",
        "Country:   +91 (IN)",
    ]


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


def test_whoami_reads_the_documented_sample_and_the_older_names():
    documented = parse_user(
        {
            "Id": "1f7a",
            "Name": "Asha Rao",
            "PassPhrase": "asha@example.com",
            "EmailAddress": None,
            "Role": "Sales_Manager",
            "TimeZone": "Asia/Kolkata",
            "OrgDisplayName": "Acme Realty",
            "OrgId": "9a1c0f3e-0000-4000-8000-000000000001",
            "DefaultCountryCode": "91",
            "Plan": None,
            "LSQCommonServiceURLs": {"api": "api-in21.leadsquared.com", "app": "in21.example"},
        }
    )
    assert documented is not None
    assert (documented.name, documented.email, documented.org, documented.role) == (
        "Asha Rao",
        "asha@example.com",
        "Acme Realty",
        "Sales_Manager",
    )
    assert (documented.api_host, documented.country_code, documented.country) == (
        "https://api-in21.leadsquared.com",
        "91",
        "IN",
    )
    older = parse_user(
        {
            "FirstName": "A",
            "LastName": "B",
            "EmailAddress": "a@b.example",
            "OrgName": "O",
            "DefaultCountryCode": "+1",
            "LSQCommonServiceURLs": {},
        }
    )
    assert older is not None
    assert (older.name, older.email, older.org, older.country, older.api_host) == (
        "A B",
        "a@b.example",
        "O",
        "US",
        "",
    )
    # a pass phrase that is not an email address is never shown as one
    assert parse_user({"PassPhrase": "s3cret"}).email == ""  # type: ignore[union-attr]
    assert parse_user(["not", "an", "object"]) is None
    assert api_url("api-in21.leadsquared.com") == "https://api-in21.leadsquared.com"
    assert api_url("127.0.0.1:8080") == "http://127.0.0.1:8080"


def test_options_flags_and_lengths_in_every_form():
    (as_string, as_labels, as_plain, as_mapping, bare) = parse_fields(
        [
            {
                "SchemaName": "a",
                "DataType": "Dropdown",
                "IsMandatory": "true",
                "OptionSet": '[{"Text": "X", "Value": "x"}]',
            },
            {
                "schemaName": "b",  # keys in another case
                "dataType": "Select",
                "options": [{"Label": "Y", "Value": "y"}],
                "MaxLength": "50",
                "IsLeadIdentifier": 0,
            },
            {"SchemaName": "c", "DataType": "Select", "Options": "p, q", "IsMandatory": 1},
            {"SchemaName": "d", "DataType": "Select", "Options": {"m": "M", "n": "N"}},
            {"SchemaName": "e", "SomethingNew": {"x": 1}},
        ]
    )
    assert (as_string.options, as_string.mandatory, as_string.is_dropdown) == (("x",), True, True)
    assert (as_labels.options, as_labels.max_length, as_labels.unique) == (("y",), 50, False)
    assert (as_plain.options, as_plain.mandatory) == (("p", "q"), True)
    assert as_mapping.options == ("m", "n")
    # a flag the metadata leaves out is "not said", not false; no type: nothing to judge
    assert (bare.mandatory, bare.unique, bare.data_type, bare.is_set) == (None, None, "", False)


# --- the pre-flight: problems with the mapping ---------------------------------------------------


PREFLIGHT_CASES = {
    "unknown lead attribute": (
        MAPPING.replace("FirstName: Name", "mx_Shoe_Size: Name"),
        "lead.attributes.mx_Shoe_Size: 'mx_Shoe_Size' is not a field of lead in this account "
        "(lsq-import fields lists them)",
    ),
    "display name for a schema name": (
        MAPPING.replace("FirstName: Name", "City: Name"),
        "lead.attributes.City: 'City' is not a field of lead in this account: 'City' is the "
        "display name of mx_City; use that",
    ),
    "unknown custom field set field": (
        MAPPING.replace(
            "    FirstName: Name\n",
            "    FirstName: Name\n  custom_field_sets:\n    mx_KYC:\n      Statu: Name\n",
        ),
        "lead.custom_field_sets.mx_KYC.Statu: 'Statu' is not a field of mx_KYC in this account; "
        "did you mean 'Status'?",
    ),
    "unknown activity field": (
        MAPPING.replace(
            "    mx_Custom_1: Project", "    mx_Custom_1: Project\n    mx_Custm_2: Name"
        ),
        "activity.fields.mx_Custm_2: 'mx_Custm_2' is not a field of activity 201 (Site Visit) "
        "in this account; did you mean 'mx_Custom_2'?",
    ),
    "SearchBy not unique": (
        MAPPING.replace("search_by: EmailAddress", "search_by: FirstName"),
        "lead.search_by: FirstName is not a unique field of this account, so it cannot find a "
        "lead; unique fields: EmailAddress, Phone, Mobile",
    ),
    "mandatory activity field not mapped": (
        MAPPING.replace("  fields:\n    mx_Custom_1: Project\n", ""),
        "activity.fields: mx_Custom_1 (Project) is mandatory for activity 201 (Site Visit) but "
        "not mapped: every row would be rejected; add activity.fields.mx_Custom_1",
    ),
    "unknown event code": (
        MAPPING.replace("event: 201", "event: 999"),
        "activity.event: 999 is not an activity type of this account; its types are: 201 Site "
        "Visit; 202 Payment Received (lsq-import activity-types lists them)",
    ),
    "constant outside the options": (
        MAPPING.replace("mx_Custom_1: Project", "mx_Custom_1: {value: Skyline Tower}"),
        "activity.fields.mx_Custom_1.value: 'Skyline Tower' is not an option of mx_Custom_1 "
        "(Project); did you mean 'Skyline Towers'?",
    ),
}


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


# --- the pre-flight: problems with values --------------------------------------------------------

VALUES = """
source: {timezone: Asia/Kolkata}
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: {column: Email, type: email}
    mx_Customer_ID: Customer
activity:
  event: 201
  fields:
    mx_Custom_1: Project
    mx_Custom_2: Budget
"""


def write_values(tmp_path: Path, mapping: str = VALUES) -> tuple[Path, Path]:
    data = tmp_path / "values.csv"
    data.write_text(
        "Email,Customer,Project,Budget\n"
        "a@x.com,C-1,Skyline Towers,100\n"
        "b@x.com,C-2,Skyline Tower,100\n"  # not an option
        "c@x.com,CUSTOMER-0000000000000001,Green Meadows,100\n"  # longer than 20
        "d@x.com,C-4,Green Meadows,12 lakh\n"  # Budget is a Number field
        "e@x.com,C-5,,100\n",  # Project is mandatory
        encoding="utf-8",
    )
    path = tmp_path / "values.yaml"
    path.write_text(mapping, encoding="utf-8")
    return data, path


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


# --- init-mapping ----------------------------------------------------------------------------------


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


# --- settings and answers that must not end in a traceback ---------------------------------


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
