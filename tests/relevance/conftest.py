"""Fixtures of the relevance tests."""
from __future__ import annotations

from pathlib import Path

import pytest
from beir_fixtures import mini_scifact


@pytest.fixture(scope="session")
def tiny_beir(tmp_path_factory) -> Path:
    """8 train claims, 4 test claims, their abstracts + 24 other abstracts of SciFact."""
    return mini_scifact(tmp_path_factory.mktemp("beir") / "scifact_tiny", 8, 4, 24)


@pytest.fixture(scope="session")
def tiny_beir_no_qrels(tiny_beir, tmp_path_factory) -> Path:
    """The same corpus and queries as ``tiny_beir`` and no qrels at all (a user's own data, never judged)."""
    import shutil

    root = tmp_path_factory.mktemp("beir") / "no_qrels"
    root.mkdir()
    for name in ("corpus.jsonl", "queries.jsonl"):
        shutil.copy(tiny_beir / name, root / name)
    return root


@pytest.fixture(scope="session")
def tiny_beir_train_qrels_only(tiny_beir, tmp_path_factory) -> Path:
    """The same corpus and queries as ``tiny_beir`` with its train qrels only (``qrels/train.tsv``, no
    ``qrels/test.tsv``): a user who judged some queries to train on and kept none aside to score."""
    import shutil

    root = tmp_path_factory.mktemp("beir") / "train_qrels_only"
    (root / "qrels").mkdir(parents=True)
    for name in ("corpus.jsonl", "queries.jsonl", "qrels/train.tsv"):
        shutil.copy(tiny_beir / name, root / name)
    return root
