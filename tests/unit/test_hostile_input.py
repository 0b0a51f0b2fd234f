"""What a user or a server can hand lsq-import that it must turn into a clear message, never a
traceback: a malformed host URL, an answer nested too deeply to parse."""

from __future__ import annotations

import pytest

from importer.failures import Verdict
from importer.sending.connection import check_url
from importer.sending.responses import classify_response, read_json

DEEP = "[" * 100_000


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://api-in21.leadsquared.com", None),
        ("http://127.0.0.1:8080", None),
        ("http://[::1]:8080", None),
        (
            "http://[::1",
            "'http://[::1' is not a valid URL (Invalid IPv6 URL): give a host such as "
            "https://api-in21.leadsquared.com, or --region",
        ),
        (
            "https://api.example.com:99999",
            "'https://api.example.com:99999' is not a valid URL (Port out of range 0-65535): "
            "give a host such as https://api-in21.leadsquared.com, or --region",
        ),
        (
            "http://api.example.com",
            "'http://api.example.com' is plain HTTP: LeadSquared needs HTTPS (http is allowed "
            "for loopback only)",
        ),
        ("ftp://api.example.com", "'ftp://api.example.com' is not an http(s) URL"),
    ],
)
def test_check_url(url: str, problem: str | None):
    assert check_url(url) == problem


def test_an_answer_nested_too_deeply_is_unreadable_not_a_crash():
    for status in (200, 500):
        answer = classify_response(status, DEEP)
        assert answer.verdict is Verdict.TRANSIENT  # not JSON: the call did not land
        assert answer.error_type == f"HTTP{status}"
    with pytest.raises(ValueError, match="nested too deeply"):
        read_json(DEEP)
    assert read_json('{"Status": "Success"}') == {"Status": "Success"}
