"""Fixtures shared by the remote-LLM tests: one fake OpenAI-compatible server per module on 127.0.0.1."""
from __future__ import annotations

import pytest

from llm_fake_server import FakeServer


@pytest.fixture(scope="module")
def server():
    srv = FakeServer().start()
    yield srv
    srv.stop()


@pytest.fixture()
def srv(server):
    """The module's server, reset to its default behaviour and with its request counts at zero."""
    server.configure()
    server.reset_counts()
    return server
