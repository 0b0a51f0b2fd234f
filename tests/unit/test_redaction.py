"""Keys echoed back by an error page never reach an output: every form of them is redacted as an
answer or an exception enters the client. The end-to-end tests run the real command line against
a sandbox that answers every call with a page echoing the keys, then search everything the
commands wrote and printed for any form, or any fragment, of either key."""

from __future__ import annotations

import os
import re
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from importer.errors import CallLost, CallNotSent, LookupFailed
from importer.outputs.calllog import CallLog
from importer.sandbox.echo import FORMS
from importer.sending.client import Counters, LeadSquaredClient
from importer.sending.connection import Connection
from importer.sending.limiter import Rate, RateLimiter

#: Keys as LeadSquared's look, with '$' and '/' in them; every run of letters and digits in
#: them mixes cases, so that no id, name or hex digest written by a run can hold one by chance.
ACCESS = "u$Zq7Acc/Wx9Kp$Lm3Qe"
SECRET = "S3crQ/Pq8Tz$Vv5Nw$J2Hy/Y6Rb"
CONNECTION = Connection("http://127.0.0.1:9", ACCESS, SECRET)


# --- the one function ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key={ACCESS}", "key=***"),
        (f"{SECRET} and {ACCESS}", "*** and ***"),
        ("u%24Zq7Acc%2FWx9Kp%24Lm3Qe", "***"),  # percent-encoded
        ("u%24Zq7Acc%2fWx9Kp%24Lm3Qe", "***"),  # lower-case hex
        ("u%24Zq7Acc/Wx9Kp$Lm3Qe", "***"),  # encoded in part (a path's '/' kept)
        ("%75%24%5A%71%37Acc%2FWx9Kp%24Lm3Qe", "***"),  # letters encoded too
        ("u\\u0024Zq7Acc\\/Wx9Kp\\u0024Lm3Qe", "***"),  # JSON's escapes
        ("u\\u0024Zq7Acc\\u002FWx9Kp\\u0024Lm3Qe", "***"),
        ("u&#36;Zq7Acc&#x2F;Wx9Kp&#036;Lm3Qe", "***"),  # HTML character references
        ("u&dollar;Zq7Acc&sol;Wx9Kp&dollar;Lm3Qe", "***"),  # HTML named references
        ("U$ZQ7ACC/WX9KP$LM3QE", "***"),  # upper-cased by whatever echoed it
        ("<p>u$Zq7Acc/Wx9Kp$Lm3Q</p>", "<p>u$Zq7Acc/Wx9Kp$Lm3Q</p>"),  # not the key: one short
        ("nothing to hide", "nothing to hide"),
    ],
)
def test_redact_removes_every_form_of_a_key(text: str, expected: str):
    assert CONNECTION.redact(text) == expected


def test_a_plus_sign_in_each_of_its_forms_and_a_short_key_are_redacted():
    plus = Connection("h", "a+b", "ZZ")
    assert plus.redact("a+b a%2Bb a%2bb a b a&plus;b") == "*** *** *** *** ***"
    assert plus.redact("pizza, ZZtop") == "pi***a, ***top"  # however short: the safe side
    assert Connection("h", "", "").redact("text") == "text"


def test_every_form_the_sandbox_echoes_is_redacted():
    for form, write in FORMS.items():
        text = f"x {write(ACCESS)} y {write(SECRET)} z"
        assert CONNECTION.redact(text) == "x *** y *** z", form


# --- exceptions, as they enter the client -------------------------------------------------------


class _Raising:
    """An aiohttp session whose every request raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def request(self, *args: Any, **kwargs: Any) -> _Raising:
        return self

    async def __aenter__(self) -> None:
        raise self.error

    async def __aexit__(self, *exc: Any) -> None:
        return None


@pytest.mark.parametrize(
    ("error", "raised"),
    [
        (aiohttp.ClientOSError(f"connection reset by proxy for key {ACCESS}"), CallLost),
        (
            aiohttp.ConnectionTimeoutError(
                "Connection timeout to host http://127.0.0.1:9/v2/LeadManagement.svc/"
                f"Leads.GetByEmailaddress?emailaddress=ada%40example.org&s={SECRET}"
            ),
            CallNotSent,
        ),
    ],
)
async def test_an_exception_s_message_loses_the_keys_and_any_url_query(
    tmp_path: Path, error: BaseException, raised: type[Exception]
):
    log = CallLog(tmp_path / "calls.jsonl")
    client = LeadSquaredClient(
        _Raising(error),  # type: ignore[arg-type]
        CONNECTION,
        RateLimiter(Rate(1000, 1.0)),
        Counters(),
        log=log,
        host_answered=True,
    )
    with pytest.raises(raised) as caught:
        await client.send("POST", "/v2/ProspectActivity.svc/CreateCustom", body={}, row=2)
    with pytest.raises(LookupFailed) as failed:
        await client.lookup("GET", "/v2/X", params={"emailaddress": "ada@example.org"}, attempts=1)
    client.link.close()
    written = (tmp_path / "calls.jsonl").read_text("utf-8")
    for text in (str(caught.value), str(failed.value), written, client.link.last_error):
        assert not _leaks(text), text
        assert "example.org" not in text  # the lookup's query stays out
    assert "***" in str(caught.value) or "Leads.GetByEmailaddress" in str(caught.value)
    assert len(written.splitlines()) == 2  # the send and the lookup, each logged


# --- the real command line against pages that echo the keys -------------------------------------


def _fragments() -> list[str]:
    """Every form of each key, and every run of four or more letters and digits in them: a key
    written in a form nobody thought of still shows its runs."""
    forms = [write(key) for write in FORMS.values() for key in (ACCESS, SECRET)]
    runs = [run for key in (ACCESS, SECRET) for run in re.findall(r"[A-Za-z0-9]{4,}", key)]
    return forms + runs


def _leaks(text: str) -> list[str]:
    return [fragment for fragment in _fragments() if fragment in text]


def _written(folder: Path) -> dict[str, str]:
    """Every file under ``folder``, as text, and the journal's SQL dump besides."""
    found = {
        str(path): path.read_bytes().decode("utf-8", "replace")
        for path in folder.rglob("*")
        if path.is_file()
    }
    for journal in folder.rglob("journal.sqlite"):
        with closing(sqlite3.connect(journal)) as db:
            found[f"{journal} (dump)"] = "\n".join(db.iterdump())
    return found


def _env(url: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
    return {**env, "LSQ_HOST": url, "LSQ_ACCESS_KEY": ACCESS, "LSQ_SECRET_KEY": SECRET}
