"""The mapping language: what loads, and the exact message for what does not."""

from __future__ import annotations

import pytest

from importer.errors import ConfigError, Problem
from importer.mapping.config import parse_mapping
from tests.conftest import CONTRACT_MAPPING


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_mapping(text)
    return [str(p) for p in caught.value.problems]


def test_the_contract_example_loads():
    mapping = parse_mapping(CONTRACT_MAPPING)
    assert mapping.lead.attributes["EmailAddress"].column == "Email"
    assert mapping.lead.attributes["Phone"].country == "IN"
    assert mapping.lead.attributes["mx_Full_Name"].columns == ["First Name", "Last Name"]
    assert mapping.activity.event.value == "105"
    assert mapping.activity.datetime.type == "datetime"
    assert mapping.activity.validate_dropdown_options is True
    assert [path for path, _ in mapping.rules()] == [
        "lead.attributes.EmailAddress",
        "lead.attributes.Phone",
        "lead.attributes.Source",
        "lead.attributes.mx_Full_Name",
        "lead.attributes.mx_Stage",
        "lead.custom_field_sets.mx_KYC.Status",
        "lead.custom_field_sets.mx_KYC.mx_CustomObject_1",
        "activity.event",
        "activity.note",
        "activity.datetime",
        "activity.fields.mx_Custom_1",
        "activity.fields.mx_Custom_2",
        "activity.custom_field_sets.mx_Custom_5.mx_CustomObject_1",
    ]


def test_scalars_stay_text_as_written():
    mapping = parse_mapping(
        """
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: Email
    mx_Zip: {value: 00123}
    mx_Flag: {column: Flag, map: {Yes: Y, No: N, 1.10: x}}
activity:
  event: 105
"""
    )
    assert mapping.lead.attributes["mx_Zip"].value == "00123"
    assert mapping.lead.attributes["mx_Flag"].map == {"Yes": "Y", "No": "N", "1.10": "x"}


def test_every_problem_is_reported_at_once_with_its_path():
    found = problems(
        """
source:
  timezone: Asia/Kolkat
lead:
  search_by: EmailAddress
  attributes:
    EmailAdress: Email
    Phone: {column: Mobile, type: phone, country: XX}
    Source: {value: Spreadsheet import, colum: x}
activity:
  event: 105
  note: {column: Notes, type: bogus}
  fields:
    mx_Custom_1: {column: Amount, type: number, timezone: UTC}
    mx_Custom_2: {column: Paid On, type: datetime, format: "dd-mm-yyyy"}
    mx_Custom_51: Extra
  validate_dropdown_options: maybe
"""
    )
    assert found == [
        "source.timezone: unknown time zone 'Asia/Kolkat'; use an IANA name such as "
        "'Asia/Kolkata' or 'UTC'",
        "lead.attributes.Phone.country: unknown country 'XX'; use a two-letter code such as "
        "'IN' or 'US'",
        "lead.attributes.Source.colum: unknown key 'colum'; did you mean 'column'?",
        "activity.note.type: 'bogus' is not allowed; use one of 'text', 'number', 'integer', "
        "'date', 'datetime', 'phone', 'email' or 'boolean'",
        "activity.fields.mx_Custom_1: timezone applies to type datetime, not number",
        "activity.fields.mx_Custom_2.format: 'dd-mm-yyyy' has no % directives; write it as a "
        "strptime pattern such as '%d/%m/%Y %H:%M', or use 'iso' or 'excel'",
        "activity.validate_dropdown_options: 'maybe' is not true or false",
        "lead.search_by: 'EmailAddress' is not among lead.attributes (mapped: EmailAdress, "
        "Phone, Source); map it there, e.g. 'EmailAddress: <column>'",
        "activity.fields.mx_Custom_51: custom activity fields run from mx_Custom_1 to mx_Custom_50",
    ]


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "{value: x, template: '{A}'}",
            "lead.attributes.mx_X: needs exactly one of column, value, template "
            "(found value, template)",
        ),
        (
            "{type: text}",
            "lead.attributes.mx_X: needs exactly one of column, value, template (found none)",
        ),
        (
            "{template: 'no braces'}",
            "lead.attributes.mx_X: template names no column: write "
            "columns in braces, e.g. '{First Name}'",
        ),
        (
            "{column: A, country: IN}",
            "lead.attributes.mx_X: country applies to type phone, not text",
        ),
        (
            "{column: A, format: '%d'}",
            "lead.attributes.mx_X: format applies to type date or datetime, not text",
        ),
        (
            "{column: A, type: number, decimal: ';'}",
            "lead.attributes.mx_X.decimal: ';' is not allowed; use one of '.' or ','",
        ),
        (
            "{column: A, on_empty: skip}",
            "lead.attributes.mx_X.on_empty: 'skip' is not allowed; "
            "use one of 'omit', 'clear' or 'fail'",
        ),
        (
            "[A, B]",
            "lead.attributes.mx_X: must be a column name or a table with column, value or template",
        ),
        (
            "",
            "lead.attributes.mx_X: is empty: give a column name, or a table with "
            "column, value or template",
        ),
    ],
)
def test_rule_problems(rule: str, message: str):
    text = f"""
lead:
  search_by: EmailAddress
  attributes:
    EmailAddress: Email
    mx_X: {rule}
activity:
  event: 105
"""
    assert problems(text) == [message]


def test_event_must_be_a_code_or_a_column():
    assert problems(
        "lead: {search_by: E, attributes: {E: Email}}\nactivity: {event: Site Visit}\n"
    ) == [
        "activity.event: 'Site Visit' is not an event code; give a number such as 105, "
        "or {column: ...}"
    ]


def test_event_from_a_column_is_an_integer():
    mapping = parse_mapping(
        "lead: {search_by: E, attributes: {E: Email}}\nactivity: {event: {column: Code}}\n"
    )
    assert mapping.activity.event.column == "Code"
    assert mapping.activity.event.type == "integer"


def test_missing_sections():
    assert problems("lead: {}\n") == [
        "lead.search_by: is missing",
        "lead.attributes: is missing",
        "activity: is missing",
    ]


def test_searchby_cannot_be_mapped_by_hand():
    assert problems(
        "lead: {search_by: E, attributes: {E: Email, SearchBy: X}}\nactivity: {event: 1}\n"
    ) == [
        "lead.attributes.SearchBy: SearchBy is added by the importer; name the attribute in "
        "lead.search_by"
    ]


def test_yaml_errors_name_the_line():
    assert problems("lead:\n  search_by: E\n  search_by: F\n") == [
        "line 3, column 3: not valid YAML: 'search_by' appears twice in the same table"
    ]
    assert problems("lead: [unclosed\n") == [
        "line 2, column 1: not valid YAML: expected ',' or ']', but got '<stream end>'"
    ]
    assert problems("- a list\n") == [
        "the mapping must be a YAML table with lead: and activity: sections"
    ]


def test_config_error_message_lists_problems():
    error = ConfigError([Problem("a.b", "wrong"), Problem("", "also")], source="m.yaml")
    assert str(error) == "m.yaml: 2 problems in the mapping:\n  a.b: wrong\n  also"


def test_source_options():
    mapping = parse_mapping(
        "source: {delimiter: tab, encoding: CP1252, sheet: 0, country: in}\n"
        "lead: {search_by: E, attributes: {E: Email}}\nactivity: {event: 1}\n"
    )
    assert mapping.source.delimiter == "\t"
    assert mapping.source.encoding == "CP1252"
    assert mapping.source.sheet == "0"
    assert mapping.source.country == "IN"
    assert problems(
        "source: {delimiter: '::', encoding: klingon}\n"
        "lead: {search_by: E, attributes: {E: Email}}\nactivity: {event: 1}\n"
    ) == [
        "source.encoding: unknown encoding 'klingon'; use auto, utf-8, utf-16, cp1252 or latin-1",
        "source.delimiter: '::' is not one character; use auto, ',', ';', '|' or tab",
    ]
