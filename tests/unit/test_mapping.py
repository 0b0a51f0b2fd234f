"""Rows to payloads: header checks, empty cells, maps, templates, and the exact JSON body."""

from __future__ import annotations

import pytest

from importer.errors import ConfigError
from importer.mapping.config import parse_mapping
from importer.mapping.plan import Plan
from importer.readers.source import Chunk
from tests.conftest import CONTRACT_MAPPING

CONTRACT = CONTRACT_MAPPING  # the contract, verbatim
HEADER = [
    "Email",
    "Mobile",
    "First Name",
    "Last Name",
    "Stage",
    "KYC Status",
    "KYC Doc",
    "Notes",
    "Visit Date",
    "Amount",
    "Paid On",
    "Receipt",
]


def plan_for(mapping: str, header: list[str]) -> Plan:
    return Plan(parse_mapping(mapping), header)


def map_rows(plan: Plan, *records: list[str]):
    rows = list(range(2, 2 + len(records)))
    return plan.map_chunk(Chunk.from_records(rows, [list(r) for r in records], len(records[0])))


def test_the_contract_mapping_builds_the_documented_body():
    plan = plan_for(CONTRACT, HEADER)
    mapped = map_rows(
        plan,
        [
            "zoe@example.com",
            "98765 43210",
            "Zoë",
            "O'Brien",
            "Won",
            "Pending",
            "KYC-1.png",
            "Café visit, très bien",
            "05/03/2026 14:30",
            "1,234.50",
            "01-07-2026 09:00",
            "000417",
        ],
    )
    assert mapped.problems == {}
    assert plan.payload(mapped, 0) == {
        "LeadDetails": [
            {"Attribute": "EmailAddress", "Value": "zoe@example.com"},
            {"Attribute": "Phone", "Value": "+91-9876543210"},
            {"Attribute": "Source", "Value": "Spreadsheet import"},
            {"Attribute": "mx_Full_Name", "Value": "Zoë O'Brien"},
            {"Attribute": "mx_Stage", "Value": "Customer"},
            {
                "Attribute": "mx_KYC",
                "Value": "",
                "Fields": [
                    {"Attribute": "Status", "Value": "Pending"},
                    {"Attribute": "mx_CustomObject_1", "Value": "KYC-1.png"},
                ],
            },
            {"Attribute": "SearchBy", "Value": "EmailAddress"},
        ],
        "Activity": {
            "ActivityEvent": 105,
            "ActivityNote": "Café visit, très bien",
            "ActivityDateTime": "2026-03-05 09:00:00",
            "Fields": [
                {"SchemaName": "mx_Custom_1", "Value": "1234.50"},
                {"SchemaName": "mx_Custom_2", "Value": "2026-07-01 08:00:00"},
                {
                    "SchemaName": "mx_Custom_5",
                    "Value": "",
                    "Fields": [
                        {"SchemaName": "mx_CustomObject_1", "Value": "000417"},
                    ],
                },
            ],
            "ValidateDropDownOptions": True,
        },
    }


def test_empty_cells_are_left_out_so_an_update_never_blanks_the_lead():
    plan = plan_for(CONTRACT, HEADER)
    mapped = map_rows(plan, ["a@x.com", "", "", "", "", "", "", "", "", "", "", ""])
    assert mapped.problems == {}
    assert plan.payload(mapped, 0) == {
        "LeadDetails": [
            {"Attribute": "EmailAddress", "Value": "a@x.com"},
            {"Attribute": "Source", "Value": "Spreadsheet import"},
            {"Attribute": "mx_Stage", "Value": "Prospect"},
            {"Attribute": "SearchBy", "Value": "EmailAddress"},
        ],
        "Activity": {"ActivityEvent": 105, "ValidateDropDownOptions": True},
    }


def test_every_bad_value_in_a_row_is_reported_with_its_path():
    plan = plan_for(CONTRACT, HEADER)
    mapped = map_rows(
        plan,
        ["a@x.com", "12345", "A", "B", "New", "", "", "", "31/02/2026 10:00", "12,5k", "", ""],
        ["", "9876543210", "A", "B", "", "", "", "", "", "", "", ""],
    )
    failures = [(row, kind, message) for row, kind, message, _ in mapped.failures()]
    assert failures == [
        (
            2,
            "InvalidValue",
            "lead.attributes.Phone: '12345' is not a valid phone number for IN; activity.datetime: "
            "'31/02/2026 10:00' does not match the format '%d/%m/%Y %H:%M'; "
            "activity.fields.mx_Custom_1: '12,5k' is not a number",
        ),
        (
            3,
            "MissingValue",
            "lead.attributes.EmailAddress: column 'Email' is empty, and it is the SearchBy value: "
            "every row needs one to find its lead",
        ),
    ]
    assert list(mapped.good()) == []


def test_a_missing_column_names_the_header_and_the_closest_match():
    header = [h if h != "Visit Date" else "Visit date" for h in HEADER]
    header.remove("Receipt")
    with pytest.raises(ConfigError) as caught:
        plan_for(CONTRACT, header)
    listed = ", ".join(repr(h) for h in header)
    assert [str(p) for p in caught.value.problems] == [
        f"activity.datetime: column 'Visit Date' is mapped but not in the file; columns are: {listed}"
        " — did you mean 'Visit date'?",
        "activity.custom_field_sets.mx_Custom_5.mx_CustomObject_1: column 'Receipt' is mapped "
        f"but not in the file; columns are: {listed}",
    ]


def test_a_duplicated_header_name_is_an_error_only_when_mapped():
    mapping = "lead: {search_by: E, attributes: {E: Email}}\nactivity: {event: 1}\n"
    plan_for(mapping, ["Email", "Note", "Note"])
    with pytest.raises(ConfigError, match="column 'Email' appears 2 times in the header"):
        plan_for(mapping, ["Email", "Email"])


def test_constants_defaults_and_map_values_are_checked_before_any_row():
    mapping = """
lead:
  search_by: E
  attributes:
    E: Email
    mx_N: {value: lots, type: number}
    mx_D: {column: D, type: date, default: someday}
    mx_P: {column: P, type: phone, country: IN, map: {none: "000"}}
activity:
  event: 1
"""
    with pytest.raises(ConfigError) as caught:
        plan_for(mapping, ["Email", "D", "P"])
    assert [str(p) for p in caught.value.problems] == [
        "lead.attributes.mx_N.value: 'lots' is not a number",
        "lead.attributes.mx_D.default: 'someday' is not an ISO date (YYYY-MM-DD HH:MM:SS); if "
        "the file writes dates another way, set format: on the rule, e.g. '%d/%m/%Y %H:%M'",
        "lead.attributes.mx_P.map.none: '000' is not a valid phone number for IN",
    ]


def test_maps_match_exactly_then_ignoring_case_and_fail_without_a_default():
    plan = plan_for(
        "lead: {search_by: E, attributes: {E: Email, S: {column: Stage, map: {New: Prospect, "
        "Won: Customer}}}}\nactivity: {event: 1}\n",
        ["Email", "Stage"],
    )
    mapped = map_rows(plan, ["a@x", "Won"], ["b@x", " won "], ["c@x", "Lost"], ["d@x", ""])
    assert mapped.values["lead.attributes.S"].to_pylist() == ["Customer", "Customer", None, None]
    assert [m for _, _, m, _ in mapped.failures()] == [
        "lead.attributes.S: 'Lost' is not in the map ('New', 'Won'); add it to map: or set a "
        "default"
    ]


def test_on_empty_clear_and_fail_and_required():
    plan = plan_for(
        "lead: {search_by: E, attributes: {E: Email, A: {column: A, on_empty: clear}, "
        "B: {column: B, on_empty: fail}, C: {column: C, required: true}}}\nactivity: {event: 1}\n",
        ["Email", "A", "B", "C"],
    )
    mapped = map_rows(plan, ["a@x", " ", "b", "c"], ["b@x", "", "", ""])
    assert mapped.values["lead.attributes.A"].to_pylist() == ["", ""]
    assert [m for _, _, m, _ in mapped.failures()] == [
        "lead.attributes.B: column 'B' is empty, and the rule is required; "
        "lead.attributes.C: column 'C' is empty, and the rule is required"
    ]


def test_templates_strip_cells_and_escape_braces():
    plan = plan_for(
        "lead: {search_by: E, attributes: {E: Email, N: {template: '{First} {Middle} {Last} "
        "{{x}}'}, M: {template: '{First}-{Last}', on_empty: fail}}}\nactivity: {event: 1}\n",
        ["Email", "First", "Middle", "Last"],
    )
    mapped = map_rows(plan, ["a@x", " Ann ", "", "Lee"], ["b@x", "", "", ""])
    assert mapped.values["lead.attributes.N"].to_pylist() == ["Ann Lee {x}", None]
    assert [m for _, _, m, _ in mapped.failures()] == [
        "lead.attributes.M: the value is empty, and the rule is required"
    ]


def test_event_code_from_a_column():
    plan = plan_for(
        "lead: {search_by: E, attributes: {E: Email}}\nactivity: {event: {column: Code}}\n",
        ["Email", "Code"],
    )
    mapped = map_rows(plan, ["a@x", "212"], ["b@x", "x"], ["c@x", ""])
    assert plan.payload(mapped, 0)["Activity"] == {"ActivityEvent": 212}
    assert [m for _, _, m, _ in mapped.failures()] == [
        "activity.event: 'x' is not a whole number",
        "activity.event: column 'Code' is empty: every row needs an activity event code",
    ]


def test_source_country_and_timezone_are_the_defaults():
    plan = plan_for(
        "source: {country: GB, timezone: Europe/London}\n"
        "lead: {search_by: E, attributes: {E: Email, P: {column: P, type: phone}}}\n"
        "activity: {event: 1, datetime: When}\n",
        ["Email", "P", "When"],
    )
    mapped = map_rows(plan, ["a@x", "020 7946 0958", "2026-07-01 10:00"])
    payload = plan.payload(mapped, 0)
    assert payload["LeadDetails"][1] == {"Attribute": "P", "Value": "+44-2079460958"}
    assert payload["Activity"]["ActivityDateTime"] == "2026-07-01 09:00:00"
