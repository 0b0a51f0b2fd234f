"""The unit tier's promise, checked: no test here starts a process or opens a network socket.

A test that needs either belongs in ``tests/component`` (the in-process sandbox) or
``tests/e2e`` (the real command line); one that slips in here fails, naming what it did."""

from __future__ import annotations

import socket
import subprocess

import pytest


@pytest.fixture(autouse=True)
def no_processes_nor_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse_process(*args: object, **kwargs: object) -> None:
        raise AssertionError(
            "a unit test started a process: move it to tests/e2e (or tests/component)"
        )

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse_process)
    for name in ("bind", "connect", "connect_ex"):
        real = getattr(socket.socket, name)

        def refuse_network(self: socket.socket, *args: object, _real=real, **kwargs: object):
            if self.family in (socket.AF_INET, socket.AF_INET6):
                raise AssertionError(
                    "a unit test opened a network socket: move it to tests/component"
                )
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(socket.socket, name, refuse_network)
