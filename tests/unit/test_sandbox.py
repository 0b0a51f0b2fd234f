"""The sandbox against LeadSquared's documented and observed behaviour: every error, the rate
window, the upsert race and each fault, asserted by status, body and what it stored."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from importer.sandbox import SandboxConfig
from importer.sandbox.state import SlidingWindow

CREATE = "/v2/ProspectActivity.svc/CreateCustom"


def config(**changes: Any) -> SandboxConfig:
    """A fast, generous sandbox unless a test asks otherwise."""
    return SandboxConfig(**{"seed": 7, "rate_limit": 1000, "rate_window": 1.0, **changes})


async def call(
    sandbox: Any,
    path: str = CREATE,
    body: Any = None,
    *,
    method: str = "POST",
    keys: bool = True,
    headers: dict[str, str] | None = None,
    data: str | None = None,
    params: dict[str, str] | None = None,
    timeout: float = 10,
) -> tuple[int, Any]:
    sent = dict(headers or {})
    if keys:
        sent |= {"x-LSQ-AccessKey": sandbox.access_key, "x-LSQ-SecretKey": sandbox.secret_key}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
        session.request(
            method,
            sandbox.url + path,
            json=body if data is None else None,
            data=data,
            headers=sent,
            params=params,
        ) as response,
    ):
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except json.JSONDecodeError:
            return response.status, text


def payload(email: str = "zoe@example.com", **changes: Any) -> dict[str, Any]:
    body = {
        "LeadDetails": [
            {"Attribute": "EmailAddress", "Value": email},
            {"Attribute": "FirstName", "Value": "Zoë"},
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
            "ActivityEvent": 201,
            "ActivityNote": "Visited",
            "ActivityDateTime": "2026-03-05 09:00:00",
            "Fields": [
                {"SchemaName": "mx_Custom_1", "Value": "Skyline Towers"},
                {"SchemaName": "mx_Custom_2", "Value": "1234.50"},
            ],
        },
    }
    for key, value in changes.items():
        section, _, name = key.partition("__")
        body[section][name] = value
    return body


def with_lead(item: dict[str, Any], **changes: Any) -> dict[str, Any]:
    body = payload(**changes)
    body["LeadDetails"].insert(1, item)
    return body


def with_fields(fields: list[dict[str, Any]], **changes: Any) -> dict[str, Any]:
    body = payload(**changes)
    body["Activity"]["Fields"] = fields
    return body


PROJECT = {"SchemaName": "mx_Custom_1", "Value": "Skyline Towers"}


def test_the_sliding_window_counts_throttled_calls_too():
    now = [0.0]
    window = SlidingWindow(2, 1.0, clock=lambda: now[0])
    assert [window.admit("k") for _ in range(3)] == [True, True, False]
    now[0] = 0.99
    assert window.admit("k") is False  # three calls (one throttled) still in the window
    now[0] = 1.5
    assert window.admit("k") is True  # only the call at 0.99 is left in (0.5, 1.5]
    now[0] = 1.6
    assert window.admit("k") is False  # 0.99 and 1.5
    assert window.admit("other key") is True  # per access key
    assert list(window.admitted) == [0.0, 0.0, 1.5, 1.6]


def test_a_schema_from_a_file(tmp_path: Path):
    from importer.errors import ConfigError
    from importer.sandbox.schema import load_schema

    path = tmp_path / "schema.yaml"
    path.write_text(
        "account: {Name: A, OrgId: '1', TimeZone: UTC, DefaultCountryCode: '1'}\n"
        "lead_fields:\n  - {SchemaName: EmailAddress, DisplayName: Email, DataType: Email, "
        "IsLeadIdentifier: true}\n"
        "activity_types:\n  - {ActivityEvent: 7, DisplayName: Call}\n",
        encoding="utf-8",
    )
    schema = load_schema(path)
    assert schema.activity_type(7).display_name == "Call"
    path.write_text("account: []\nlead_fields: []\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_schema(path)
    assert [p.path for p in caught.value.problems] == ["account", "activity_types"]
