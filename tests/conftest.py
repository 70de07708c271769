"""Fixtures shared by every test folder."""
import socket

import pytest


@pytest.fixture
def dead_port() -> int:
    """A local TCP port nothing listens on: the base_url of an LLM server that does not answer."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
