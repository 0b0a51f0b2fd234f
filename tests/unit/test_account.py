"""Knowing the account before sending: whoami and host discovery, activity-types, fields, the
pre-flight check of a mapping and its values (in validate and at the start of run), and
init-mapping. All against the sandbox, whose schema is the account; every pre-flight test checks
that no CreateCustom call was made."""

from __future__ import annotations

import os
from pathlib import Path

from importer.account.parsers import api_url, parse_fields, parse_user
from tests.conftest import ROOT
from tests.unit.test_run import MAPPING

SAMPLES = ROOT / "data_samples"


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


# --- init-mapping ----------------------------------------------------------------------------------


# --- settings and answers that must not end in a traceback ---------------------------------
