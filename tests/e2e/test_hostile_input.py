"""Hostile input: the tests that need the real command line
(the rest are in tests/unit/test_hostile_input.py)."""

from __future__ import annotations

import pytest

from tests.unit.test_hostile_input import DEEP


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
