"""The pre-flight against every shape the account's metadata may answer in.

LeadSquared does not document how its metadata describes a custom field set's fields, nor the
form of its flags and options, so the sandbox answers in each plausible shape
(``importer/sandbox/shapes.py``) and each test here runs against all of them: the sample
mappings pass and send; a mapping the metadata proves wrong is still refused with its exact
message; what the metadata does not show is skipped, said, and sent."""

from __future__ import annotations

import json

from importer.account.parsers import parse_fields
from importer.sandbox.schema import default_schema
from importer.sandbox.shapes import SHAPES
from tests.conftest import ROOT

SAMPLES = {
    "site_visits": (ROOT / "data_samples/site_visits.csv", ROOT / "mappings/site_visits.yaml", 294),
    "payments": (ROOT / "data_samples/payments.xlsx", ROOT / "mappings/payments.yaml", 117),
}
#: Shapes in which a custom field set's own fields are listed, in one form or another.
SETS_LISTED = {"nested", "custom-object", "parent-field", "tilde", "restricted"}
#: Shapes in which the lead fields and the activity types are listed.
NAMES_LISTED = set(SHAPES) - {"restricted"}
CFS_SKIP = (
    "cannot check the fields of custom field set {}: the account's metadata does not list them; "
    "LeadSquared rejects a row whose CFS field is unknown"
)


def test_every_shape_is_read_as_the_same_account():
    """The parser finds the same fields, sets, options and flags in every shape that lists
    them, from the sandbox's own answers."""
    from importer.sandbox import shapes

    schema = default_schema()
    for name, shape in SHAPES.items():
        if shape.denied:
            continue
        leads = {f.schema_name: f for f in parse_fields(shapes.leads_metadata(schema, shape))}
        assert len(leads) == len(schema.lead_fields), name  # CFS fields are not lead fields
        kyc = leads["mx_KYC"]
        setting = parse_fields(shapes.activity_setting(schema.activity_type(202), shape))
        receipt = {f.schema_name: f for f in setting}["mx_Custom_5"]
        if name in SETS_LISTED:
            assert kyc.is_set and receipt.is_set, name
            assert [f.schema_name for f in kyc.fields] == [
                "Status",
                "mx_CustomObject_1",
                "mx_CustomObject_2",
            ], name
            assert kyc.field("Status").options == ("Pending", "Verified", "Rejected"), name
            assert [f.schema_name for f in receipt.fields] == ["mx_CustomObject_1"], name
        else:
            assert kyc.fields is None and receipt.fields is None, name
        if name != "sparse":
            assert leads["EmailAddress"].unique is True and leads["FirstName"].unique is False
            assert leads["ProspectStage"].options == ("Prospect", "Opportunity", "Customer", "Lost")
            assert leads["mx_Customer_ID"].max_length == 20
            assert setting[0].mandatory is True and setting[1].options[0] == "cash"
        else:
            assert leads["EmailAddress"].unique is None and setting[0].mandatory is None


def test_cfs_fields_listed_in_any_of_the_plausible_places():
    nested_deep = parse_fields(
        {
            "Total": 2,
            "List": [
                {"SchemaName": "Email", "DataType": "Email"},
                {
                    "SchemaName": "mx_KYC",
                    "DataType": "CustomObject",
                    "CustomObjectMetaData": json.dumps({"Fields": [{"SchemaName": "Status"}]}),
                },
            ],
        }
    )
    assert nested_deep[1].field("Status") is not None
    # child~parent written the other way round, and a child whose parent has no entry
    flat = parse_fields(
        [
            {"SchemaName": "mx_KYC", "DataType": "CustomObject"},
            {"SchemaName": "Status~mx_KYC", "DataType": "Text"},
            {"SchemaName": "mx_Doc", "ParentField": "mx_Other"},
            {"SchemaName": "Email", "ParentField": None},
        ]
    )
    by_name = {f.schema_name: f for f in flat}
    assert set(by_name) == {"mx_KYC", "mx_Other", "Email"}
    assert by_name["mx_KYC"].field("Status").data_type == "Text"
    assert by_name["mx_Other"].is_set and by_name["mx_Other"].field("mx_Doc") is not None
    # an empty set entry is "not listed", never "has no fields"
    assert (
        parse_fields([{"SchemaName": "mx_KYC", "DataType": "CustomObject", "Fields": []}])[0].fields
        is None
    )
    # nothing that reads as a list of fields: not listed at all
    assert parse_fields({"Status": "Success", "Message": "ok"}) is None
    assert parse_fields([]) == ()


REFUSED = ["unknown lead attribute", "unknown activity field", "unknown event code"]
