"""What a user or a server can hand lsq-import that it must turn into a clear message, never a
traceback: a malformed host URL, an answer nested too deeply to parse."""

from __future__ import annotations

import pytest

from importer.connection import check_url
from importer.responses import Verdict, classify_response, read_json

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


@pytest.fixture
def deep_server():
    """A host whose every answer is HTTP 200 with JSON nested 100,000 levels deep."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    class Deep(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = DEEP.encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Deep)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_host_answering_too_deep_json_gets_a_message(deep_server, tmp_path):
    import os

    from tests.conftest import run_cli

    env = {k: v for k, v in os.environ.items() if not k.startswith("LSQ_")}
    env |= {"LSQ_HOST": deep_server, "LSQ_ACCESS_KEY": "a", "LSQ_SECRET_KEY": "s"}
    result = run_cli("whoami", env=env, cwd=tmp_path)
    assert "Traceback" not in result.stderr
    assert result.returncode == 2
    assert "nested too deeply" in result.stderr
