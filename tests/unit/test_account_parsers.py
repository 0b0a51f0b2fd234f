"""The pure metadata parsers of ``importer.account.parsers`` against answer shapes a live account may
plausibly give: what each reads, and what it leaves unknown rather than guess. A parser never
raises; where it cannot read something whole it says "not listed" (None), so that a check is
skipped instead of made from part of the truth."""

from __future__ import annotations

import pytest

from importer.account.parsers import (
    parse_activity_types,
    parse_fields,
)

# --- keys, flags and values -------------------------------------------------------------------


def test_a_key_with_a_null_value_gives_way_to_the_next_spelling():
    (field,) = parse_fields(
        [
            {
                "SchemaName": None,
                "Attribute": "mx_City",
                "DisplayName": None,
                "Label": "City",
                "DataType": None,
                "FieldType": "Text",
                "IsMandatory": None,
                "Mandatory": "true",
                "MaxLength": None,
                "Length": 40,
            }
        ]
    )
    assert (field.schema_name, field.display_name, field.data_type) == ("mx_City", "City", "Text")
    assert (field.mandatory, field.max_length) == (True, 40)


def test_flags_that_disagree_are_not_said():
    agree, disagree, by_case, one = parse_fields(
        [
            {"SchemaName": "a", "IsMandatory": True, "Mandatory": "True", "IsRequired": 1},
            {"SchemaName": "b", "IsMandatory": True, "Mandatory": False},
            {"SchemaName": "c", "IsLeadIdentifier": "true", "isleadidentifier": "false"},
            {"SchemaName": "d", "IsMandatory": "maybe", "Mandatory": 0},
        ]
    )
    assert agree.mandatory is True
    assert disagree.mandatory is None
    assert by_case.unique is None
    assert one.mandatory is False


@pytest.mark.parametrize(
    "raw",
    [1e400, float("nan"), "Infinity", "-Infinity", "NaN", "1e400", 10**400, "50.5", True],
    ids=["inf", "nan", "Infinity", "-Infinity", "NaN", "1e400", "huge", "fraction", "bool"],
)
def test_a_length_that_is_no_length_is_unknown(raw):
    (field,) = parse_fields([{"SchemaName": "a", "MaxLength": raw}])
    assert field.max_length is None


def test_lengths_in_their_plausible_forms():
    lengths = [f.max_length for f in parse_fields([
        {"SchemaName": "a", "MaxLength": 50},
        {"SchemaName": "b", "MaxLength": "50"},
        {"SchemaName": "c", "MaxLength": 50.0},
        {"SchemaName": "d", "MaxLength": " 50.0 "},
        {"SchemaName": "e", "MaxLength": 0},
        {"SchemaName": "f", "MaxLength": "-1"},
    ])]  # fmt: skip
    assert lengths == [50, 50, 50, 50, None, None]


def test_values_too_big_to_print_are_unknown_not_a_crash():
    fields = parse_fields([{"SchemaName": 10**5000}, {"SchemaName": "a"}])
    assert [f.schema_name for f in fields or ()] == ["a"]
    (field,) = parse_fields([{"SchemaName": "a", "DisplayName": 10**5000}])
    assert field.display_name == ""


# --- which list is the list of fields ---------------------------------------------------------


@pytest.mark.parametrize(
    "code",
    ["1" * 5000, 10**5000, "²", "1e3", 1e400, True, "105.5"],
    ids=["digits", "huge", "superscript", "exponent", "inf", "bool", "fraction"],
)
def test_an_activity_code_that_is_no_code_is_skipped(code):
    types = parse_activity_types([{"ActivityEvent": code}, {"ActivityEvent": 201}])
    assert [t.code for t in types or ()] == [201]


def test_activity_codes_as_numbers_strings_and_whole_floats():
    types = parse_activity_types(
        [{"ActivityEvent": 201}, {"ActivityEvent": " 202 "}, {"ActivityEvent": 203.0}]
    )
    assert [t.code for t in types or ()] == [201, 202, 203]
