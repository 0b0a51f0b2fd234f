"""``classify_response`` as a table: LeadSquared's answers and what each one means."""

from __future__ import annotations

import json

import pytest

from importer.failures import Verdict
from importer.sending.responses import classify_response


def mx(kind: str, message: str = "m") -> str:
    return json.dumps({"Status": "Error", "ExceptionType": kind, "ExceptionMessage": message})


SUCCESS = json.dumps({"Status": "Success", "Message": {"Id": "a1", "RelatedId": "l1"}})
THROTTLE = mx(
    "MXAPIRateLimitExceededException", "API calls exceeded the limit of 20 in 5 second(s)"
)


@pytest.mark.parametrize(
    ("status", "body", "verdict", "error_type"),
    [
        (200, SUCCESS, Verdict.SUCCESS, ""),
        (200, json.dumps({"Status": "Success", "Message": "ok"}), Verdict.SUCCESS, ""),
        (429, THROTTLE, Verdict.THROTTLED, "MXAPIRateLimitExceededException"),
        (200, THROTTLE, Verdict.THROTTLED, "MXAPIRateLimitExceededException"),  # observed
        (500, THROTTLE, Verdict.THROTTLED, "MXAPIRateLimitExceededException"),
        (429, "Too Many Requests", Verdict.THROTTLED, "MXAPIRateLimitExceededException"),
        (401, mx("MXInvalidUserDetailsException"), Verdict.FATAL, "MXInvalidUserDetailsException"),
        (200, mx("MXInvalidUserDetailsException"), Verdict.FATAL, "MXInvalidUserDetailsException"),
        (401, "", Verdict.FATAL, "Unauthorized"),
        (404, "<html>Not Found</html>", Verdict.FATAL, "NotFound"),
        (500, mx("MXUnknownAttributeException"), Verdict.REJECTED, "MXUnknownAttributeException"),
        (500, mx("MXInvalidActivityException"), Verdict.REJECTED, "MXInvalidActivityException"),
        (
            200,
            mx("MXInvalidInputException"),
            Verdict.REJECTED,
            "MXInvalidInputException",
        ),  # observed
        (400, mx("MXInvalidInputException"), Verdict.REJECTED, "MXInvalidInputException"),
        (400, "Bad Request", Verdict.REJECTED, "HTTP400"),
        (500, mx("MXDuplicateEntryException"), Verdict.DUPLICATE, "MXDuplicateEntryException"),
        (500, "<html><h1>500 Internal Server Error</h1></html>", Verdict.TRANSIENT, "HTTP500"),
        (502, "", Verdict.TRANSIENT, "HTTP502"),
        (503, json.dumps({"Status": "Error", "Message": "busy"}), Verdict.TRANSIENT, "HTTP503"),
        (200, "not json at all", Verdict.TRANSIENT, "HTTP200"),
        (200, json.dumps({"Status": "Error"}), Verdict.TRANSIENT, "HTTP200"),
    ],
)
def test_classify(status: int, body: str, verdict: Verdict, error_type: str):
    answer = classify_response(status, body)
    assert (answer.verdict, answer.error_type) == (verdict, error_type)


def test_success_carries_the_ids():
    answer = classify_response(200, SUCCESS)
    assert (answer.activity_id, answer.lead_id) == ("a1", "l1")


def test_a_throttle_states_the_accounts_limit():
    assert classify_response(200, THROTTLE).limit == (20, 5.0)
    assert classify_response(429, "").limit is None


def test_transient_messages_strip_html():
    answer = classify_response(500, "<html><body><h1>500 Internal Server Error</h1></body></html>")
    assert answer.message == "HTTP 500 without an MX error body: 500 Internal Server Error"
