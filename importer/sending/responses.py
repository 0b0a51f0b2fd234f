"""Judging LeadSquared's answers: one pure function, ``classify_response``.

LeadSquared's status codes do not say what happened; the body does. Success is only a JSON body
with ``"Status": "Success"``. A throttle is HTTP 429 or ``MXAPIRateLimitExceededException``
under any status (HTTP 200 included). Application errors (``MX...Exception``) are deterministic
whatever their status. Anything else from the server side (a 5xx without an MX body, a body that
is not JSON or is nested too deeply to read) is transient.

The answer's error type is named here; its verdict comes from the one table of failure kinds
(``failures.KINDS``), the same table the journal decides resumes by:

    Verdict            what the run does next
    SUCCESS            record the row's activity and lead ids
    THROTTLED          pause every worker, then send the row again (adopting a lower limit)
    FATAL              stop the run: bad keys (401, MXInvalidUserDetailsException), wrong path
                       (404); the next run sends the row
    REJECTED           fail the row with the MX type (or HTTP4xx) and message; no retry
    DUPLICATE          MXDuplicateEntryException: the lead now exists, send once more
    TRANSIENT          retry with backoff; the call did not land
"""

from __future__ import annotations

import json
import re
from typing import Any

from importer.errors import SendAgain
from importer.failures import (
    KEYS_REFUSED,
    NOT_FOUND,
    RATE_LIMITED,
    UNAUTHORIZED,
    Answer,
    Verdict,
    kind_of,
)

_LIMIT = re.compile(r"limit of (\d+) in (\d+(?:\.\d+)?) second", re.IGNORECASE)


def classify_response(status: int, text: str) -> Answer:
    """The meaning of an HTTP status and body from LeadSquared."""
    body, too_deep = _json(text)
    exception = str(body.get("ExceptionType") or "") if isinstance(body, dict) else ""
    message = str(body.get("ExceptionMessage") or "") if isinstance(body, dict) else ""
    if isinstance(body, dict) and body.get("Status") == "Success":
        ids = body.get("Message")
        ids = ids if isinstance(ids, dict) else {}
        return Answer(
            Verdict.SUCCESS,
            activity_id=str(ids.get("Id") or ""),
            lead_id=str(ids.get("RelatedId") or ""),
        )
    limit = None
    if status == 429 or exception == RATE_LIMITED:
        stated = _LIMIT.search(message)
        limit = (int(stated.group(1)), float(stated.group(2))) if stated else None
        error_type, message = RATE_LIMITED, message or "HTTP 429 Too Many Requests"
    elif status == 401 or exception == KEYS_REFUSED:
        error_type = KEYS_REFUSED if exception == KEYS_REFUSED else UNAUTHORIZED
        message = (
            "LeadSquared refused the access key and secret key (HTTP 401): check "
            "LSQ_ACCESS_KEY and LSQ_SECRET_KEY, and that they belong to this host's region"
        )
    elif status == 404:
        error_type = NOT_FOUND
        message = (
            "the API path was not found (HTTP 404): check the host (--host, --region, LSQ_HOST)"
        )
    elif exception.startswith("MX"):
        error_type = exception
    else:
        error_type = f"HTTP{status}"
        message = _unexpected(status, text, too_deep)
    verdict = kind_of(error_type).verdict
    assert verdict is not None, error_type  # every name made here is an answer's kind
    return Answer(verdict, error_type, message, limit=limit)


def _unexpected(status: int, text: str, too_deep: bool) -> str:
    """The message for an answer with no MX error in it."""
    if 400 <= status < 500 and status != 408:
        return _snippet(text) or f"HTTP {status}"
    if too_deep:
        return f"HTTP {status}: {_TOO_DEEP}"
    return f"HTTP {status} without an MX error body: {_snippet(text)}".rstrip(": ")


_TOO_DEEP = "the answer is JSON nested too deeply to read"


class TooDeep(SendAgain, ValueError):
    """An answer whose JSON is nested too deeply for the parser (no answer LeadSquared gives)."""


def read_json(text: str) -> Any:
    """The JSON value in an answer's body; ValueError (``json.JSONDecodeError``, ``TooDeep``)
    when it holds none that can be read."""
    try:
        return json.loads(text)
    except RecursionError:  # e.g. 100,000 levels of "[": the parser gives up, not the answer
        raise TooDeep(_TOO_DEEP) from None


def _json(text: str) -> tuple[Any, bool]:
    """The body's JSON value (None when it holds none), and whether it was too deep to read."""
    try:
        return read_json(text), False
    except TooDeep:
        return None, True
    except ValueError:
        return None, False


def _snippet(text: str) -> str:
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:200]
