"""Answers that echo the request's keys, as some proxies and gateways do in their error pages
(``--echo-keys``): the importer must keep every key out of what it writes and says.

Each answer writes both keys in one form, the forms taken in turn (answer n has form n modulo
their number), so that a few calls show every form:

    verbatim        u$key/one
    percent         u%24key%2Fone          (what a URL or a form carries)
    percent-lower   u%24key%2fone          (hex in lower case, as some encoders write it)
    json            u\\u0024key\\/one        (a JSON string's escapes)
    html            u&#36;key&#x2f;one     (an HTML page's character references)

and each kind of answer is one place where a key shows up in the wild:

    gateway   HTTP 502, an HTML error page (a proxy in front of the API)
    json      HTTP 500, a JSON body without an MX error (a framework's error handler)
    mx        HTTP 400, an MX error whose message quotes the headers
    ok        HTTP 200, a JSON body that is no success (a misbehaving endpoint)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote


def _percent_lower(key: str) -> str:
    encoded = quote(key, safe="")
    parts = encoded.split("%")
    return parts[0] + "".join(f"%{p[:2].lower()}{p[2:]}" for p in parts[1:])


def _json(key: str) -> str:
    return "".join(
        "\\/" if c == "/" else c if c.isalnum() and c.isascii() else f"\\u{ord(c):04x}" for c in key
    )


def _html(key: str) -> str:
    return "".join(
        "&#x2f;" if c == "/" else c if c.isalnum() and c.isascii() else f"&#{ord(c)};" for c in key
    )


#: Each form's name and how it writes a key (the writing is this module's own, independent of
#: the importer's redaction, so that a test of one does not lean on the other).
FORMS: dict[str, Callable[[str], str]] = {
    "verbatim": lambda key: key,
    "percent": lambda key: quote(key, safe=""),
    "percent-lower": _percent_lower,
    "json": _json,
    "html": _html,
}


@dataclass(frozen=True)
class Echo:
    """One answer: its status, content type and body text."""

    status: int
    content_type: str
    text: str


def _in_json(form: str, written: str) -> str:
    """``written`` as the inside of a JSON string: the json form's escapes are meant as such;
    any other form is escaped as JSON would write it."""
    return written if form == "json" else json.dumps(written)[1:-1]


def _gateway(access: str, secret: str, form: str) -> Echo:
    page = (
        "<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1>"
        f"<p>x-LSQ-AccessKey: {access}</p><p>x-LSQ-SecretKey: {secret}</p></body></html>"
    )
    return Echo(502, "text/html", page)


def _json_error(access: str, secret: str, form: str) -> Echo:
    a, s = _in_json(form, access), _in_json(form, secret)
    body = f'{{"error": "upstream failed", "x-LSQ-AccessKey": "{a}", "x-LSQ-SecretKey": "{s}"}}'
    return Echo(500, "application/json", body)


def _mx(access: str, secret: str, form: str) -> Echo:
    a, s = _in_json(form, access), _in_json(form, secret)
    body = (
        '{"Status": "Error", "ExceptionType": "MXInvalidInputException", "ExceptionMessage": '
        f'"Invalid headers: x-LSQ-AccessKey={a}, x-LSQ-SecretKey={s}"}}'
    )
    return Echo(400, "application/json", body)


def _ok(access: str, secret: str, form: str) -> Echo:
    a, s = _in_json(form, access), _in_json(form, secret)
    body = f'{{"Status": "Error", "Message": "not processed: keys {a} and {s}"}}'
    return Echo(200, "application/json", body)


KINDS: dict[str, Callable[[str, str, str], Echo]] = {
    "gateway": _gateway,
    "json": _json_error,
    "mx": _mx,
    "ok": _ok,
}


def echo(kind: str, form: str, access_key: str, secret_key: str) -> Echo:
    """The answer of ``kind`` that writes both keys in ``form``."""
    write = FORMS[form]
    return KINDS[kind](write(access_key), write(secret_key), form)
