"""Fixtures of the relevance tests."""
from __future__ import annotations

from pathlib import Path

import pytest
from beir_fixtures import mini_scifact


@pytest.fixture(scope="session")
def tiny_beir(tmp_path_factory) -> Path:
    """8 train claims, 4 test claims, their abstracts + 24 other abstracts of SciFact."""
    return mini_scifact(tmp_path_factory.mktemp("beir") / "scifact_tiny", 8, 4, 24)
