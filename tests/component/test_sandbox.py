"""Sandbox: the tests that need the sandbox server
(the rest are in tests/unit/test_sandbox.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from importer.mapping.config import load_mapping
from importer.mapping.validation import open_input
from importer.sandbox import serve
from tests.conftest import ROOT
from tests.unit.test_sandbox import (
    PROJECT,
    call,
    config,
    payload,
    with_fields,
    with_lead,
)


async def test_a_good_call_upserts_the_lead_and_stores_the_activity():
    async with serve(config()) as sandbox:
        status, body = await call(sandbox, body=payload())
        assert status == 200
        assert body["Status"] == "Success"
        state = sandbox.state.snapshot()
        [lead] = state["leads"]
        [activity] = state["activities"]
        assert body["Message"] == {"Id": activity["Id"], "RelatedId": lead["ProspectID"]}
        assert lead["EmailAddress"] == "zoe@example.com"
        assert lead["FirstName"] == "Zoë"
        assert lead["mx_KYC"] == {"Status": "Pending", "mx_CustomObject_1": "KYC-1.png"}
        assert activity["ActivityEvent"] == 201
        assert activity["ActivityNote"] == "Visited"
        assert activity["ActivityDateTime"] == "2026-03-05 09:00:00"
        assert activity["Fields"] == {"mx_Custom_1": "Skyline Towers", "mx_Custom_2": "1234.50"}

        # the same lead, found by email whatever its case: updated, a second activity posted
        status, body = await call(
            sandbox, body=payload("ZOE@Example.com", Activity__ActivityNote="Again")
        )
        assert status == 200
        state = sandbox.state.snapshot()
        assert len(state["leads"]) == 1
        assert len(state["activities"]) == 2
        assert state["counters"]["leads_updated"] == 1


async def test_keys_in_the_query_string_work_too_and_wrong_keys_get_401():
    async with serve(config()) as sandbox:
        params = {"accessKey": sandbox.access_key, "secretKey": sandbox.secret_key}
        status, _ = await call(sandbox, body=payload(), keys=False, params=params)
        assert status == 200
        status, body = await call(
            sandbox,
            body=payload(),
            keys=False,
            headers={"x-LSQ-AccessKey": sandbox.access_key, "x-LSQ-SecretKey": "wrong"},
        )
        assert status == 401
        assert body == {
            "Status": "Error",
            "ExceptionType": "MXInvalidUserDetailsException",
            "ExceptionMessage": "Invalid access key or secret key.",
        }
        assert len(sandbox.state.activities) == 1


async def test_unknown_path_is_404():
    async with serve(config()) as sandbox:
        status, body = await call(sandbox, "/v2/ProspectActivity.svc/CreateCustomm", payload())
        assert status == 404
        assert body["ExceptionType"] == "MXNotFoundException"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        (
            {"data": "{not json", "headers": {"Content-Type": "application/json"}},
            (400, "The request body is not JSON"),
        ),
        (
            {"data": json.dumps(payload()), "headers": {"Content-Type": "text/plain"}},
            (400, "Content-Type must be application/json"),
        ),
        ({"body": {"LeadDetails": {}, "Activity": {}}}, (400, "LeadDetails must be a list")),
        ({"body": {"LeadDetails": []}}, (400, "Activity must be an object")),
    ],
)
async def test_bad_requests_are_400(kwargs: dict[str, Any], expected: tuple[int, str]):
    async with serve(config()) as sandbox:
        status, body = await call(sandbox, **kwargs)
        assert (status, body["ExceptionMessage"]) == expected
        assert body["ExceptionType"] == "MXInvalidInputException"


@pytest.mark.parametrize(
    ("body", "exception", "message"),
    [
        (
            with_lead({"Attribute": "mx_Shoe_Size", "Value": "9"}),
            "MXUnknownAttributeException",
            "Unknown lead attribute: mx_Shoe_Size",
        ),
        (
            with_lead(
                {
                    "Attribute": "mx_KYC",
                    "Value": "",
                    "Fields": [{"Attribute": "mx_Nope", "Value": "x"}],
                }
            ),
            "MXUnknownAttributeException",
            "Unknown field mx_Nope in mx_KYC",
        ),
        (
            payload(Activity__ActivityEvent=999),
            "MXInvalidActivityException",
            "Invalid activity event code: 999",
        ),
        (
            payload(Activity__ActivityEvent=""),
            "MXInvalidActivityException",
            "Invalid activity event code: ''",
        ),
        (
            with_fields([{"SchemaName": "mx_Custom_2", "Value": "5"}]),
            "MXInvalidActivityFieldsException",
            "Mandatory activity fields are missing: mx_Custom_1",
        ),
        (
            with_fields([PROJECT, {"SchemaName": "mx_Custom_9", "Value": "5"}]),
            "MXInvalidActivityFieldsException",
            "mx_Custom_9 is not a field of activity Site Visit",
        ),
        (
            with_fields([PROJECT, {"SchemaName": "mx_Custom_2", "Value": "12,5k"}]),
            "MXInvalidActivityFieldsException",
            "mx_Custom_2: '12,5k' is not a number",
        ),
        (
            with_fields([{"SchemaName": "mx_Custom_1", "Value": "Skyline"}]),
            "MXInvalidActivityFieldsException",
            "mx_Custom_1: 'Skyline' is not one of the options of Project",
        ),
        (
            with_fields(
                [
                    {"SchemaName": "mx_Custom_1", "Value": "5"},
                    {"SchemaName": "mx_Custom_3", "Value": "2026-03-05T09:00"},
                ],
                Activity__ActivityEvent=202,
            ),
            "MXInvalidActivityFieldsException",
            "mx_Custom_3: '2026-03-05T09:00' is not a date-time in the format yyyy-MM-dd HH:mm:ss",
        ),
        (
            payload(Activity__ActivityDateTime="05/03/2026 09:00"),
            "MXInvalidInputException",
            "ActivityDateTime '05/03/2026 09:00' is not in the format yyyy-MM-dd HH:mm:ss (UTC)",
        ),
        (
            payload("not-an-email"),
            "MXInvalidInputException",
            "EmailAddress: 'not-an-email' is not a valid email address",
        ),
        (
            with_lead({"Attribute": "ProspectStage", "Value": "Hot"}),
            "MXInvalidInputException",
            "ProspectStage: 'Hot' is not one of the options of Lead Stage",
        ),
        (
            with_lead({"Attribute": "mx_Customer_ID", "Value": "0" * 21}),
            "MXInvalidInputException",
            "mx_Customer_ID: value longer than its maximum length of 20",
        ),
        (
            with_lead({"Attribute": "FirstName", "Value": 5}),
            "MXInvalidInputException",
            "The value of FirstName must be a string",
        ),
    ],
)
async def test_application_errors_are_500_with_an_mx_body(body: Any, exception: str, message: str):
    async with serve(config()) as sandbox:
        status, answer = await call(sandbox, body=body)
        assert status == 500
        assert answer == {
            "Status": "Error",
            "ExceptionType": exception,
            "ExceptionMessage": message,
        }
        state = sandbox.state.snapshot()
        assert state["leads"] == [] and state["activities"] == []
        assert state["rejected"] == {exception: 1}


async def test_searchby_must_name_a_unique_field_with_a_value():
    async with serve(config()) as sandbox:
        body = payload()
        body["LeadDetails"][-1]["Value"] = "Phone"
        status, answer = await call(sandbox, body=body)
        assert (status, answer["ExceptionMessage"]) == (500, "SearchBy Phone has no value")
        body["LeadDetails"][-1]["Value"] = "FirstName"
        status, answer = await call(sandbox, body=body)
        assert answer["ExceptionMessage"] == "SearchBy must name a unique lead field, not FirstName"
        body["LeadDetails"].pop()
        status, answer = await call(sandbox, body=body)
        assert answer["ExceptionMessage"] == "SearchBy is missing from LeadDetails"


async def test_validate_dropdown_options_true_skips_the_option_check():
    async with serve(config()) as sandbox:
        body = with_fields([{"SchemaName": "mx_Custom_1", "Value": "Not an option"}])
        body["Activity"]["ValidateDropDownOptions"] = True
        status, _ = await call(sandbox, body=body)
        assert status == 200


async def test_activity_custom_field_sets_accept_schemaname_or_attribute():
    async with serve(config()) as sandbox:
        body = payload(Activity__ActivityEvent=202)
        body["Activity"]["Fields"] = [
            {"SchemaName": "mx_Custom_1", "Value": "5000"},
            {
                "Attribute": "mx_Custom_5",
                "Value": "",
                "Fields": [{"Attribute": "mx_CustomObject_1", "Value": "0001234"}],
            },
        ]
        status, _ = await call(sandbox, body=body)
        assert status == 200
        [activity] = sandbox.state.snapshot()["activities"]
        assert activity["Fields"]["mx_Custom_5"] == {"mx_CustomObject_1": "0001234"}


async def test_a_new_lead_missing_a_mandatory_field_is_refused(tmp_path: Path):
    from importer.sandbox.schema import default_schema

    schema = default_schema()
    schema.lead_field("Mobile").mandatory = True
    async with serve(config(schema=schema)) as sandbox:
        status, answer = await call(sandbox, body=payload())
        assert status == 500
        assert answer["ExceptionType"] == "MXMandatoryAttributeMissingException"
        assert answer["ExceptionMessage"] == "Mandatory lead fields are missing: Mobile"


async def test_a_concurrent_burst_never_gets_more_than_n_in_any_window():
    limit, window = 5, 0.5
    async with serve(
        config(rate_limit=limit, rate_window=window, throttle_200_share=0.5)
    ) as sandbox:
        results = []
        for _ in range(3):  # three bursts, spread over more than one window
            results += await asyncio.gather(
                *(call(sandbox, body=payload(f"u{i}@example.com")) for i in range(20))
            )
            await asyncio.sleep(window / 2)
        admitted = list(sandbox.state.window.admitted)
        assert len(admitted) >= limit
        for first, later in zip(admitted, admitted[limit:], strict=False):
            assert later - first > window  # the (N+1)th call is always more than W later
        successes = [r for r in results if r[0] == 200 and r[1]["Status"] == "Success"]
        throttles = [
            r
            for r in results
            if r[1]["ExceptionType" if r[1].get("Status") == "Error" else "Status"]
            == "MXAPIRateLimitExceededException"
        ]
        assert len(successes) == len(admitted)
        assert len(successes) + len(throttles) == 60
        statuses = {status for status, _ in throttles}
        assert statuses == {200, 429}  # some throttles come back as HTTP 200
        assert (
            throttles[0][1]["ExceptionMessage"]
            == "API calls exceeded the limit of 5 in 0.5 second(s)"
        )
        counters = sandbox.state.counters
        assert counters["throttled"] == len(throttles)
        assert counters["throttled_200"] + counters["throttled_429"] == len(throttles)


async def test_two_concurrent_calls_for_one_new_lead_create_two_leads():
    async with serve(config(latency=0.2, latency_sigma=0)) as sandbox:
        results = await asyncio.gather(call(sandbox, body=payload()), call(sandbox, body=payload()))
        assert [status for status, _ in results] == [200, 200]
        leads = sandbox.state.snapshot()["leads"]
        assert [lead["EmailAddress"] for lead in leads] == ["zoe@example.com"] * 2


async def test_or_one_of_them_gets_a_duplicate_entry_error():
    async with serve(config(latency=0.2, latency_sigma=0, race="error")) as sandbox:
        results = await asyncio.gather(call(sandbox, body=payload()), call(sandbox, body=payload()))
        assert sorted(status for status, _ in results) == [200, 500]
        failed = next(body for status, body in results if status == 500)
        assert failed["ExceptionType"] == "MXDuplicateEntryException"
        assert len(sandbox.state.leads) == 1
        assert len(sandbox.state.activities) == 1


async def test_a_dropped_answer_was_still_written():
    async with serve(config(drop_rate=1.0)) as sandbox:
        with pytest.raises(aiohttp.ClientError):
            await call(sandbox, body=payload())
        await asyncio.sleep(0.05)
        assert len(sandbox.state.activities) == 1
        assert sandbox.state.counters["faults_dropped"] == 1


async def test_a_call_slower_than_the_client_is_written_when_it_completes():
    async with serve(config(slow_rate=1.0, slow_seconds=0.5)) as sandbox:
        with pytest.raises(asyncio.TimeoutError):
            await call(sandbox, body=payload(), timeout=0.1)
        assert len(sandbox.state.activities) == 0
        await asyncio.sleep(0.7)
        assert len(sandbox.state.activities) == 1
        assert sandbox.state.counters["faults_slow"] == 1


async def test_a_non_mx_500_writes_nothing():
    async with serve(config(fail_rate=1.0)) as sandbox:
        status, body = await call(sandbox, body=payload())
        assert status == 500
        assert isinstance(body, str) and "Internal Server Error" in body
        assert sandbox.state.activities == []
        assert sandbox.state.counters["faults_500"] == 1


async def test_faults_and_latency_repeat_with_a_seed():
    def draws(seed: int) -> list[Any]:
        from importer.sandbox.state import State

        state = State(config(seed=seed, latency=0.3, fail_rate=0.2, drop_rate=0.2))
        return [(state.fault(), round(state.latency(), 6)) for _ in range(50)]

    assert draws(3) == draws(3)
    assert draws(3) != draws(4)
    kinds = {fault for fault, _ in draws(3)}
    assert kinds == {"fail", "drop", None}
    latencies = [latency for _, latency in draws(3)]
    assert min(latencies) < 0.3 < max(latencies)  # a distribution, not a constant


async def test_metadata_endpoints_return_the_real_shapes():
    async with serve(config()) as sandbox:
        status, user = await call(
            sandbox, "/v2/Authentication.svc/UserByAccessKey.Get", method="GET"
        )
        assert status == 200
        # the docs' sample: Name, OrgDisplayName, the login email as PassPhrase, digits only
        assert {k: user[k] for k in ("Name", "OrgDisplayName", "PassPhrase", "EmailAddress")} == {
            "Name": "Sandbox Admin",
            "OrgDisplayName": "Sandbox Realty",
            "PassPhrase": "admin@sandbox.example",
            "EmailAddress": None,
        }
        assert user["TimeZone"] == "Asia/Kolkata"
        assert user["DefaultCountryCode"] == "91"
        assert user["LSQCommonServiceURLs"]["api"] == sandbox.url.removeprefix("http://")

        _, types = await call(sandbox, "/v2/ProspectActivity.svc/ActivityTypes.Get", method="GET")
        assert {t["ActivityEvent"]: t["DisplayName"] for t in types} == {
            201: "Site Visit",
            202: "Payment Received",
        }

        _, setting = await call(
            sandbox,
            "/v2/ProspectActivity.svc/CustomActivity/GetActivitySetting",
            method="GET",
            params={"code": "201"},
        )
        project = setting["Fields"][0]
        assert project["SchemaName"] == "mx_Custom_1" and project["IsMandatory"] is True
        assert isinstance(project["OptionSet"], str)  # a JSON-encoded string, as LeadSquared sends
        assert [o["Value"] for o in json.loads(project["OptionSet"])] == [
            "Green Meadows",
            "Skyline Towers",
            "Lakeview Residency",
        ]
        status, body = await call(
            sandbox,
            "/v2/ProspectActivity.svc/CustomActivity/GetActivitySetting",
            method="GET",
            params={"code": "7"},
        )
        assert (status, body["ExceptionType"]) == (500, "MXInvalidActivityException")

        _, fields = await call(sandbox, "/v2/LeadManagement.svc/LeadsMetaData.Get", method="GET")
        by_name = {f["SchemaName"]: f for f in fields}
        assert by_name["EmailAddress"]["IsLeadIdentifier"] is True
        assert by_name["mx_KYC"]["DataType"] == "CustomObject"
        assert [f["SchemaName"] for f in by_name["mx_KYC"]["Fields"]] == [
            "Status",
            "mx_CustomObject_1",
            "mx_CustomObject_2",
        ]


async def test_lookups_and_a_leads_activities():
    async with serve(config()) as sandbox:
        body = payload()
        body["LeadDetails"].insert(0, {"Attribute": "Mobile", "Value": "+91-9876543210"})
        _, first = await call(sandbox, body=body)
        _, second = await call(
            sandbox,
            body=payload(
                Activity__ActivityEvent=202,
                Activity__Fields=[{"SchemaName": "mx_Custom_1", "Value": "10"}],
            ),
        )
        lead_id = first["Message"]["RelatedId"]
        assert second["Message"]["RelatedId"] == lead_id

        _, found = await call(
            sandbox,
            "/v2/LeadManagement.svc/Leads.GetByEmailaddress",
            method="GET",
            params={"emailaddress": "Zoe@EXAMPLE.com"},
        )
        assert [lead["ProspectID"] for lead in found] == [lead_id]
        _, none = await call(
            sandbox,
            "/v2/LeadManagement.svc/Leads.GetByEmailaddress",
            method="GET",
            params={"emailaddress": "nobody@example.com"},
        )
        assert none == []
        _, by_phone = await call(
            sandbox,
            "/v2/LeadManagement.svc/RetrieveLeadByPhoneNumber",
            method="GET",
            params={"phone": "+91 98765 43210"},
        )
        assert [lead["ProspectID"] for lead in by_phone] == [lead_id]

        path = "/v2/ProspectActivity.svc/Retrieve"
        _, all_of_them = await call(
            sandbox, path, {"Paging": {"Offset": "0", "RowCount": "25"}}, params={"leadId": lead_id}
        )
        assert all_of_them["RecordCount"] == 2
        assert [a["EventCode"] for a in all_of_them["ProspectActivities"]] == [202, 201]
        _, visits = await call(
            sandbox,
            path,
            {"Parameter": {"ActivityEvent": 201}, "Paging": {"Offset": "0", "RowCount": "25"}},
            params={"leadId": lead_id},
        )
        [visit] = visits["ProspectActivities"]
        assert visit["Id"] == first["Message"]["Id"]
        assert visit["EventName"] == "Site Visit"
        assert visit["CreatedOn"] == "2026-03-05 09:00:00"
        assert visit["Data"] == {
            "ActivityEvent_Note": "Visited",
            "mx_Custom_1": "Skyline Towers",
            "mx_Custom_2": "1234.50",
        }
        _, paged = await call(
            sandbox, path, {"Paging": {"Offset": "1", "RowCount": "1"}}, params={"leadId": lead_id}
        )
        assert paged["RecordCount"] == 2 and len(paged["ProspectActivities"]) == 1


async def test_every_api_call_counts_against_the_limit_and_the_state_route_needs_no_keys():
    async with serve(config(rate_limit=2, rate_window=5)) as sandbox:
        await call(sandbox, "/v2/LeadManagement.svc/LeadsMetaData.Get", method="GET")
        await call(sandbox, "/v2/ProspectActivity.svc/ActivityTypes.Get", method="GET")
        status, body = await call(sandbox, body=payload())
        assert body["ExceptionType"] == "MXAPIRateLimitExceededException"
        status, state = await call(sandbox, "/_sandbox/state", method="GET", keys=False)
        assert status == 200
        assert state["counters"]["requests"] == 3
        assert state["counters"]["throttled"] == 1
        assert state["config"]["rate"] == "2/5s"
        status, _ = await call(sandbox, "/_sandbox/reset", keys=False)
        assert sandbox.state.counters == {}


@pytest.mark.parametrize(
    ("sample", "mapping"),
    [("site_visits.csv", "site_visits.yaml"), ("payments.xlsx", "payments.yaml")],
)
async def test_every_sample_row_that_maps_is_accepted(sample: str, mapping: str):
    source, plan = open_input(
        ROOT / "data_samples" / sample, load_mapping(ROOT / "mappings" / mapping)
    )
    bodies = []
    for chunk in source.chunks():
        mapped = plan.map_chunk(chunk)
        bodies += [plan.payload(mapped, i) for i in mapped.good()]
    async with serve(config(rate_limit=10_000)) as sandbox:
        results = await asyncio.gather(*(call(sandbox, body=b) for b in bodies))
        refused = [
            (body, answer)
            for body, (status, answer) in zip(bodies, results, strict=True)
            if status != 200
        ]
        assert refused == []
        assert len(sandbox.state.activities) == len(bodies)


def test_serve_in_thread_for_synchronous_callers():
    import urllib.request

    from importer.sandbox import serve_in_thread

    with serve_in_thread(config()) as sandbox:
        request = urllib.request.Request(
            sandbox.url + "/v2/ProspectActivity.svc/ActivityTypes.Get",
            headers={"x-LSQ-AccessKey": sandbox.access_key, "x-LSQ-SecretKey": sandbox.secret_key},
        )
        with urllib.request.urlopen(request, timeout=5) as response:
            assert [t["ActivityEvent"] for t in json.load(response)] == [201, 202]
        assert sandbox.state.counters["requests"] == 1
