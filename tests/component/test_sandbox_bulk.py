"""Sandbox: the bulk endpoints (lead upsert, activities by lead id) against what LeadSquared's
docs and public code say: 25 records a call, per-row errors inside an HTTP 200, a throttle of
their own, every plausible answer shape, and CreateCustom's faults."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from importer.sandbox import serve
from importer.sandbox.shapes import BULK_SHAPES
from importer.sandbox.state import BULK_ACTIVITIES, BULK_LEADS
from tests.unit.test_sandbox import call, payload
from tests.unit.test_sandbox import config as standard_config

TYPES = "/v2/ProspectActivity.svc/ActivityTypes.Get"


def config(**changes: Any) -> Any:
    """A fast, generous sandbox, the bulk window included, unless a test asks otherwise."""
    return standard_config(**{"bulk_rate_limit": 1000, "bulk_rate_window": 1.0, **changes})


def lead(email: str, *items: dict[str, Any], search_by: str | None = "EmailAddress") -> list:
    record: list[dict[str, Any]] = [{"Attribute": "EmailAddress", "Value": email}, *items]
    if search_by:
        record.append({"Attribute": "SearchBy", "Value": search_by})
    return record


def attr(name: str, value: Any) -> dict[str, Any]:
    return {"Attribute": name, "Value": value}


def visit(lead_id: str, note: str, project: str = "Skyline Towers", **extra: Any) -> dict:
    return {
        "RelatedProspectId": lead_id,
        "ActivityEvent": 201,
        "ActivityNote": note,
        "ActivityDateTime": "2026-03-05 09:00:00",
        "Fields": [
            {"SchemaName": "mx_Custom_1", "Value": project},
            {"SchemaName": "mx_Custom_2", "Value": "1500"},
        ],
        **extra,
    }


def stored_leads(sandbox: Any) -> dict[str, dict[str, Any]]:
    """Stored leads by id, without their time stamps."""
    return {
        lead.id: {k: v for k, v in lead.json().items() if k not in ("CreatedOn", "ModifiedOn")}
        for lead in sandbox.state.leads.values()
    }


def truthy(value: Any) -> bool:
    return value in (True, 1, "true", "True", "1")


def outcomes(answer: Any) -> list[tuple[int, str | None, bool, str | None]]:
    """Any bulk answer, in any shape, as (row number, id, created, error message) by row: how
    a client can read every shape in ``BULK_SHAPES``."""
    items = answer["Response"] if isinstance(answer, dict) else answer
    read = []
    for position, item in enumerate(items, 1):
        number = int(item.get("RowNumber", position))  # no RowNumber: the call's order
        the_id = item.get("LeadId", item.get("ProspectActivityId")) or None
        created = truthy(item.get("LeadCreated", item.get("ActivityCreated")))
        error = item.get("ExceptionMessage") or item.get("ErrorMessage") or None
        read.append((number, the_id, created, error))
    return sorted(read)


async def test_a_batch_of_25_leads_is_upserted_as_create_custom_would():
    async with serve(config()) as sandbox:
        status, first = await call(sandbox, body=payload())  # zoe@example.com, by CreateCustom
        zoe = first["Message"]["RelatedId"]
        kyc = {
            "Attribute": "mx_KYC",
            "Value": "",
            "Fields": [attr("Status", "Verified"), attr("mx_CustomObject_2", "00123")],
        }
        records = [
            lead(f"lead{n:02d}@example.com", attr("FirstName", f"Lead {n}")) for n in range(1, 26)
        ]
        records[0] = lead("lead01@example.com", attr("FirstName", "Lead 1"), kyc)
        records[1] = lead("lead02@example.com", attr("FirstName", "Lead 2"), search_by=None)
        records[2] = lead("ZOE@Example.com", attr("FirstName", "Zoe B"))  # an update
        records[3] = [
            attr("Phone", "+91-9876543210"),
            attr("FirstName", "Lead 4"),
            attr("SearchBy", "Phone"),
        ]

        status, answer = await call(sandbox, BULK_LEADS, records)
        assert status == 200
        leads = stored_leads(sandbox)
        assert len(leads) == 25  # zoe and 24 new ones
        ids = [row["LeadId"] for row in answer]
        assert ids[2] == zoe
        assert answer == [
            {
                "RowNumber": n,
                "LeadId": ids[n - 1],
                "LeadCreated": n != 3,
                "LeadUpdated": n == 3,
                "AffectedRows": 1,
            }
            for n in range(1, 26)
        ]
        assert leads[ids[0]] == {
            "ProspectID": ids[0],
            "EmailAddress": "lead01@example.com",
            "FirstName": "Lead 1",
            "mx_KYC": {"Status": "Verified", "mx_CustomObject_2": "00123"},
        }
        assert leads[ids[1]]["EmailAddress"] == "lead02@example.com"  # matched by email
        assert leads[zoe] == {
            "ProspectID": zoe,
            "EmailAddress": "ZOE@Example.com",
            "FirstName": "Zoe B",
            "mx_KYC": {"Status": "Pending", "mx_CustomObject_1": "KYC-1.png"},
        }
        assert leads[ids[3]] == {
            "ProspectID": ids[3],
            "Phone": "+91-9876543210",
            "FirstName": "Lead 4",
        }
        assert leads[ids[24]]["FirstName"] == "Lead 25"

        # the same batch again: every record finds its lead, by email or by phone
        status, again = await call(sandbox, BULK_LEADS, records)
        assert [(r["LeadId"], r["LeadCreated"], r["LeadUpdated"]) for r in again] == [
            (i, False, True) for i in ids
        ]
        assert len(sandbox.state.leads) == 25
        counters = sandbox.state.counters
        assert counters["calls:CreateOrUpdate"] == 2
        assert (counters["bulk_leads_created"], counters["bulk_leads_updated"]) == (24, 26)
        assert (counters["leads_created"], counters["leads_updated"]) == (25, 26)
        assert counters["bulk_rows"] == 50 and counters["bulk_rows_failed"] == 0


@pytest.mark.parametrize("path", [BULK_LEADS, BULK_ACTIVITIES])
async def test_26_records_are_refused_whole_and_nothing_is_stored(path: str):
    async with serve(config()) as sandbox:
        _, first = await call(sandbox, body=payload())
        zoe = first["Message"]["RelatedId"]
        kind = "leads" if path == BULK_LEADS else "activities"
        one = lead("a@example.com") if path == BULK_LEADS else visit(zoe, "x")
        status, answer = await call(sandbox, path, [one] * 26)
        assert status == 500
        assert answer == {
            "Status": "Error",
            "ExceptionType": "MXInvalidInputException",
            "ExceptionMessage": f"A call may carry at most 25 {kind}; this one carries 26",
        }
        assert len(sandbox.state.leads) == 1 and len(sandbox.state.activities) == 1
        assert sandbox.state.counters["bulk_refused_too_many"] == 1
        assert sandbox.state.rejected == {"MXInvalidInputException": 1}
        status, answer = await call(sandbox, path, [one] * 25)
        assert status == 200  # 25 is the most a call carries, not one less


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"Leads": []}, 400, "The body must be a list of leads"),
        ([], 500, "The request holds no leads"),
        (
            [lead("a@example.com"), {"Attribute": "EmailAddress"}],
            400,
            "Lead 2 must be a list of items",
        ),
        ([lead("a@example.com"), [{"Value": "x"}]], 400, "An item has no Attribute"),
    ],
)
async def test_a_body_of_the_wrong_structure_is_refused_whole(body: Any, status: int, message: str):
    async with serve(config()) as sandbox:
        got, answer = await call(sandbox, BULK_LEADS, body)
        assert (got, answer["ExceptionType"], answer["ExceptionMessage"]) == (
            status,
            "MXInvalidInputException",
            message,
        )
        assert sandbox.state.leads == {}


async def test_a_failing_record_fails_alone_inside_a_200():
    async with serve(config()) as sandbox:
        records = [
            lead("ana@example.com", attr("FirstName", "Ana")),
            lead("bo@example.com", attr("mx_Shoe_Size", "9")),
            lead("not-an-email"),
            lead("cy@example.com", attr("mx_Customer_ID", "0" * 21)),
            [attr("FirstName", "Nobody")],  # nothing to match by
            lead("ANA@example.com", attr("mx_City", "Pune")),  # row 1's lead, in the same call
        ]
        status, answer = await call(sandbox, BULK_LEADS, records)
        assert status == 200
        ana = answer[0]["LeadId"]

        def failed(n: int, kind: str, message: str) -> dict[str, Any]:
            return {
                "RowNumber": n,
                "LeadCreated": False,
                "LeadUpdated": False,
                "AffectedRows": 0,
                "ExceptionType": kind,
                "ExceptionMessage": message,
            }

        assert answer == [
            {
                "RowNumber": 1,
                "LeadId": ana,
                "LeadCreated": True,
                "LeadUpdated": False,
                "AffectedRows": 1,
            },
            failed(2, "MXUnknownAttributeException", "Unknown lead attribute: mx_Shoe_Size"),
            failed(
                3,
                "MXInvalidInputException",
                "EmailAddress: 'not-an-email' is not a valid email address",
            ),
            failed(
                4,
                "MXInvalidInputException",
                "mx_Customer_ID: value longer than its maximum length of 20",
            ),
            failed(5, "MXInvalidInputException", "SearchBy is missing from LeadDetails"),
            {
                "RowNumber": 6,
                "LeadId": ana,
                "LeadCreated": False,
                "LeadUpdated": True,
                "AffectedRows": 1,
            },
        ]
        assert stored_leads(sandbox) == {
            ana: {
                "ProspectID": ana,
                "EmailAddress": "ANA@example.com",
                "FirstName": "Ana",
                "mx_City": "Pune",
            }
        }
        counters = sandbox.state.counters
        assert counters["bulk_rows_failed"] == 4
        assert counters["bulk_rows_failed:MXInvalidInputException"] == 3
        assert sandbox.state.rejected == {}  # the call itself was not refused


async def test_a_new_lead_missing_a_mandatory_field_fails_its_row():
    from importer.sandbox.schema import default_schema

    schema = default_schema()
    schema.lead_field("Mobile").mandatory = True
    async with serve(config(schema=schema)) as sandbox:
        records = [lead("a@example.com", attr("Mobile", "9876543210")), lead("b@example.com")]
        status, answer = await call(sandbox, BULK_LEADS, records)
        assert status == 200
        assert [r.get("ExceptionType") for r in answer] == [
            None,
            "MXMandatoryAttributeMissingException",
        ]
        assert answer[1]["ExceptionMessage"] == "Mandatory lead fields are missing: Mobile"
        assert len(sandbox.state.leads) == 1


async def test_25_activities_on_known_leads_are_stored_as_create_custom_stores_them():
    async with serve(config()) as sandbox:
        _, created = await call(
            sandbox, BULK_LEADS, [lead(f"l{n}@example.com") for n in range(1, 6)]
        )
        ids = [row["LeadId"] for row in created]
        items = [visit(ids[n % 5], f"visit {n}") for n in range(1, 26)]
        items[0]["ActivityOwnerEmail"] = "admin@sandbox.example"
        status, answer = await call(sandbox, BULK_ACTIVITIES, items)
        assert status == 200
        activity_ids = [row["ProspectActivityId"] for row in answer["Response"]]
        assert answer == {
            "Response": [
                {
                    "RowNumber": n,
                    "ActivityCreated": True,
                    "ProspectActivityId": activity_ids[n - 1],
                    "ExceptionMessage": None,
                }
                for n in range(1, 26)
            ]
        }
        state = sandbox.state.snapshot()
        assert len(state["activities"]) == 25
        first = state["activities"][0]
        assert {k: v for k, v in first.items() if k != "CreatedOn"} == {
            "Id": activity_ids[0],
            "LeadId": ids[1],
            "ActivityEvent": 201,
            "ActivityNote": "visit 1",
            "ActivityDateTime": "2026-03-05 09:00:00",
            "Fields": {"mx_Custom_1": "Skyline Towers", "mx_Custom_2": "1500"},
            "ActivityOwnerEmail": "admin@sandbox.example",
        }
        assert [a["ActivityOwnerEmail"] for a in state["activities"][1:]] == [None] * 24

        # the lookups and the state route see them, as they see CreateCustom's
        _, found = await call(
            sandbox,
            "/v2/ProspectActivity.svc/Retrieve",
            {"Paging": {"Offset": "0", "RowCount": "25"}},
            params={"leadId": ids[1]},
        )
        assert found["RecordCount"] == 5
        assert {a["Id"] for a in found["ProspectActivities"]} == set(activity_ids[0::5])
        assert found["ProspectActivities"][-1]["Data"] == {
            "ActivityEvent_Note": "visit 1",
            "mx_Custom_1": "Skyline Towers",
            "mx_Custom_2": "1500",
        }
        _, route = await call(sandbox, "/_sandbox/state", method="GET", keys=False)
        assert [a["Id"] for a in route["activities"]] == activity_ids
        assert route["counters"]["calls:ByLeadId"] == 1
        assert route["counters"]["bulk_activities_created"] == 25
        assert route["counters"]["activities_created"] == 25


async def test_an_unknown_lead_id_fails_its_row_inside_a_200():
    async with serve(config()) as sandbox:
        _, created = await call(sandbox, BULK_LEADS, [lead("a@example.com")])
        known = created[0]["LeadId"]
        items = [
            visit(known, "ok"),
            visit("00000000-0000-0000-0000-000000000000", "nobody"),
            visit(known, "bad option", project="Skyline"),
            visit(known, "stranger", ActivityOwnerEmail="someone@elsewhere.example"),
            {**visit(known, "no code"), "ActivityEvent": 999},
            visit(known, "again"),
        ]
        status, answer = await call(sandbox, BULK_ACTIVITIES, items)
        assert status == 200
        rows = answer["Response"]
        stored = [a.id for a in sandbox.state.activities]
        assert rows == [
            {
                "RowNumber": 1,
                "ActivityCreated": True,
                "ProspectActivityId": stored[0],
                "ExceptionMessage": None,
            },
            {
                "RowNumber": 2,
                "ActivityCreated": False,
                "ProspectActivityId": None,
                "ExceptionMessage": "No lead with id '00000000-0000-0000-0000-000000000000'",
            },
            {
                "RowNumber": 3,
                "ActivityCreated": False,
                "ProspectActivityId": None,
                "ExceptionMessage": "mx_Custom_1: 'Skyline' is not one of the options of Project",
            },
            {
                "RowNumber": 4,
                "ActivityCreated": False,
                "ProspectActivityId": None,
                "ExceptionMessage": "ActivityOwnerEmail 'someone@elsewhere.example' is not a user of this account",
            },
            {
                "RowNumber": 5,
                "ActivityCreated": False,
                "ProspectActivityId": None,
                "ExceptionMessage": "Invalid activity event code: 999",
            },
            {
                "RowNumber": 6,
                "ActivityCreated": True,
                "ProspectActivityId": stored[1],
                "ExceptionMessage": None,
            },
        ]
        assert [a.note for a in sandbox.state.activities] == ["ok", "again"]
        assert sandbox.state.counters["bulk_rows_failed"] == 4


def is_throttle(result: tuple[int, Any]) -> bool:
    _, body = result
    return isinstance(body, dict) and body.get("ExceptionType") == "MXAPIRateLimitExceededException"


async def test_the_bulk_throttle_is_a_window_of_its_own():
    limit, window = 5, 1.0  # compressed time; wide enough for a slow machine's burst
    async with serve(
        config(bulk_rate_limit=limit, bulk_rate_window=window, throttle_200_share=0.5)
    ) as sandbox:
        bulk = [call(sandbox, BULK_LEADS, [lead(f"u{i}@example.com")]) for i in range(12)]
        standard = [call(sandbox, TYPES, method="GET") for _ in range(12)]
        results = await asyncio.gather(*bulk, *standard)
        bulk_results, standard_results = results[:12], results[12:]
        throttles = [r for r in bulk_results if is_throttle(r)]
        assert len(throttles) == 12 - limit
        assert {status for status, _ in throttles} == {200, 429}  # as the standard throttle
        assert {body["ExceptionMessage"] for _, body in throttles} == {
            "API calls exceeded the limit of 5 in 1 second(s)"
        }
        assert [status for status, _ in standard_results] == [200] * 12  # untouched
        assert len(sandbox.state.leads) == limit
        counters = sandbox.state.counters
        assert counters["bulk_throttled"] == counters["throttled"] == 12 - limit
        bulk_admitted = list(sandbox.state.bulk_window.admitted)
        assert len(bulk_admitted) == limit
        assert sandbox.state.snapshot()["admitted"] == {
            **sandbox.state.snapshot()["admitted"],
            "count": 12 + limit,  # the standard window logs only what got through both
            "bulk": limit,
        }

        await asyncio.sleep(window * 1.2)  # the window has passed
        status, answer = await call(sandbox, BULK_LEADS, [lead("late@example.com")])
        assert status == 200 and answer[0]["LeadCreated"] is True


@pytest.mark.parametrize("counts", [True, False])
async def test_a_bulk_call_counts_in_the_standard_window_unless_told_otherwise(counts: bool):
    async with serve(
        config(rate_limit=3, rate_window=5, throttle_200_share=0, bulk_counts_as_standard=counts)
    ) as sandbox:
        for _ in range(3):
            assert (await call(sandbox, TYPES, method="GET"))[0] == 200
        status, answer = await call(sandbox, BULK_LEADS, [lead("a@example.com")])
        if counts:
            assert status == 429
            assert answer["ExceptionMessage"] == "API calls exceeded the limit of 3 in 5 second(s)"
            assert sandbox.state.counters["bulk_throttled"] == 0
        else:
            assert status == 200
        assert (await call(sandbox, TYPES, method="GET"))[0] == 429


async def test_the_default_bulk_throttle_is_the_strictest_documented_one():
    async with serve(standard_config(throttle_200_share=0)) as sandbox:
        assert sandbox.state.config.describe()["bulk_rate"] == "1/5s"
        first = await call(sandbox, BULK_LEADS, [lead("a@example.com")])
        second = await call(sandbox, BULK_LEADS, [lead("b@example.com")])
        assert first[0] == 200
        assert second == (
            429,
            {
                "Status": "Error",
                "ExceptionType": "MXAPIRateLimitExceededException",
                "ExceptionMessage": "API calls exceeded the limit of 1 in 5 second(s)",
            },
        )


async def run_scenario(shape: str) -> tuple[Any, Any, list, list, dict[str, str]]:
    """One lead call (an update, a new lead, a failure) and one activity call (a stored
    activity, an unknown lead, a bad field), answered in ``shape``."""
    async with serve(config(bulk_shape=shape)) as sandbox:
        _, first = await call(sandbox, body=payload())
        records = [
            lead("zoe@example.com", attr("FirstName", "Zoe")),
            lead("new@example.com"),
            lead("bad@example.com", attr("mx_Shoe_Size", "9")),
        ]
        status, leads_answer = await call(sandbox, BULK_LEADS, records)
        assert status == 200
        zoe = first["Message"]["RelatedId"]
        items = [visit(zoe, "ok"), visit("nope", "x"), visit(zoe, "bad", project="Skyline")]
        status, activities_answer = await call(sandbox, BULK_ACTIVITIES, items)
        assert status == 200
        names = {lead.id: lead.fields["EmailAddress"] for lead in sandbox.state.leads.values()}
        names |= {a.id: f"activity {a.note}" for a in sandbox.state.activities}
        return (
            leads_answer,
            activities_answer,
            outcomes(leads_answer),
            outcomes(activities_answer),
            names,
        )


async def test_every_answer_shape_reads_as_the_same_outcome():
    def named(read: list, names: dict[str, str]) -> list:
        return [(n, names.get(i) if i else None, created, error) for n, i, created, error in read]

    raw = {}
    for shape in BULK_SHAPES:
        leads_answer, activities_answer, lead_rows, activity_rows, names = await run_scenario(shape)
        raw[shape] = (leads_answer, activities_answer)
        assert named(lead_rows, names) == [
            (1, "zoe@example.com", False, None),
            (2, "new@example.com", True, None),
            (3, None, False, "Unknown lead attribute: mx_Shoe_Size"),
        ], shape
        assert named(activity_rows, names) == [
            (1, "activity ok", True, None),
            (2, None, False, "No lead with id 'nope'"),
            (3, None, False, "mx_Custom_1: 'Skyline' is not one of the options of Project"),
        ], shape
    distinct = {repr(answers) for answers in raw.values()}
    assert len(distinct) == len(BULK_SHAPES)  # each shape is a shape of its own

    # a few shapes' own marks, exactly
    assert isinstance(raw["seen-in-code"][0], list) and set(raw["seen-in-code"][1]) == {"Response"}
    assert set(raw["wrapped"][0]) == {"Response"} and isinstance(raw["bare"][1], list)
    assert raw["error-message"][0][2] == {
        "RowNumber": 3,
        "LeadCreated": False,
        "LeadUpdated": False,
        "AffectedRows": 0,
        "ErrorMessage": "Unknown lead attribute: mx_Shoe_Size",
    }
    assert raw["strings"][1]["Response"][1] == {
        "RowNumber": "2",
        "ActivityCreated": "false",
        "ProspectActivityId": "",
        "ExceptionMessage": "No lead with id 'nope'",
    }
    assert [r["RowNumber"] for r in raw["reversed"][0]] == [3, 2, 1]
    assert all("RowNumber" not in r for r in raw["unnumbered"][0])


def test_an_unknown_bulk_shape_is_refused_with_the_list():
    with pytest.raises(ValueError, match="'flat' is not a bulk shape: seen-in-code, error-message"):
        config(bulk_shape="flat")


async def test_a_dropped_bulk_answer_was_still_written():
    async with serve(config(drop_rate=1.0)) as sandbox:
        with pytest.raises(aiohttp.ClientError):
            await call(sandbox, BULK_LEADS, [lead("a@example.com"), lead("b@example.com")])
        await asyncio.sleep(0.05)
        assert sorted(lead.fields["EmailAddress"] for lead in sandbox.state.leads.values()) == [
            "a@example.com",
            "b@example.com",
        ]
        _, found = await call(
            sandbox,
            "/v2/LeadManagement.svc/Leads.GetByEmailaddress",
            method="GET",
            params={"emailaddress": "a@example.com"},
        )
        [a] = found
        with pytest.raises(aiohttp.ClientError):
            await call(sandbox, BULK_ACTIVITIES, [visit(a["ProspectID"], "lost answer")])
        await asyncio.sleep(0.05)
        assert [(x.lead_id, x.note) for x in sandbox.state.activities] == [
            (a["ProspectID"], "lost answer")
        ]
        assert sandbox.state.counters["faults_dropped"] == 2


async def test_a_non_mx_500_writes_nothing_and_a_slow_call_writes_late():
    async with serve(config(fail_rate=1.0)) as sandbox:
        status, body = await call(sandbox, BULK_LEADS, [lead("a@example.com")])
        assert status == 500 and isinstance(body, str) and "Internal Server Error" in body
        assert sandbox.state.leads == {}
        assert sandbox.state.counters["faults_500"] == 1
    async with serve(config(slow_rate=1.0, slow_seconds=0.5)) as sandbox:
        with pytest.raises(asyncio.TimeoutError):
            await call(sandbox, BULK_LEADS, [lead("a@example.com")], timeout=0.1)
        assert sandbox.state.leads == {}
        await asyncio.sleep(0.7)
        assert len(sandbox.state.leads) == 1
        assert sandbox.state.counters["faults_slow"] == 1


async def test_two_concurrent_bulk_calls_for_one_new_lead_race_as_create_custom_does():
    async with serve(config(latency=0.2, latency_sigma=0, race="error")) as sandbox:
        results = await asyncio.gather(
            call(sandbox, BULK_LEADS, [lead("r@example.com")]),
            call(sandbox, BULK_LEADS, [lead("r@example.com")]),
        )
        assert [status for status, _ in results] == [200, 200]
        rows = sorted((r[0].get("ExceptionType") or "ok") for _, r in results)
        assert rows == ["MXDuplicateEntryException", "ok"]
        assert len(sandbox.state.leads) == 1
