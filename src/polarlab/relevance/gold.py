"""Which relevance judgements (qrels) a run has, which queries it labels, and what it skips without them.

A relevance run needs no qrels: the candidate pool, the cheap sources, the LLM judge, POLAR, the labels file and
the trained retrievers use none. Train qrels choose the queries to label and are read by ``supervised`` (it trains
on them) and to measure the risk of the LLM judgements; test qrels are read by every retrieval metric (nDCG@10,
Recall@100, ``with_bm25``, the paired comparisons), so the methods that only measure (``bm25``, ``dense``,
``fusion``, ``llm_rerank``) need them. A split left at its default name whose file is missing (or holds no
relevant pair) is simply absent; a split the settings name must have its file (:func:`qrels_to_load`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .beir import BeirData
from .config import RelevanceConfig

SPLIT_KEYS = ("train_split", "test_split")
MEASURE_ONLY = ("bm25", "dense", "fusion", "llm_rerank")
"""Methods whose only output is test metrics (their rankings of the training queries are made anyway when the
pool needs them)."""
TRAIN_GOLD = ("supervised",)
"""Methods that train on the train qrels."""
POLAR_METHODS = ("polar", "polar_self_training")
"""Methods that report the risk of the LLM judgements."""


def qrels_to_load(config: RelevanceConfig) -> dict:
    """Keyword arguments of :func:`~polarlab.relevance.beir.load_beir` for ``config``: both splits, those left at
    their default names optional, those set in the settings required (their missing file names the key)."""
    named = {getattr(config, k): f"[relevance] {k}" for k in SPLIT_KEYS if k in config.model_fields_set}
    optional = {getattr(config, k) for k in SPLIT_KEYS} - set(named)
    return {"splits": (config.train_split, config.test_split), "optional": optional, "named_by": named}


@dataclass(frozen=True)
class GoldSplits:
    """The qrels of a loaded run.

    Attributes:
        train, test: the split names whose qrels were loaded and hold at least one relevant pair; None = none.
        train_file, test_file: where they are (or would be), for the messages.
    """

    train: str | None
    test: str | None
    train_file: Path
    test_file: Path

    @classmethod
    def of(cls, config: RelevanceConfig, data: BeirData) -> "GoldSplits":
        root = Path(config.data) / "qrels"

        def present(split: str) -> str | None:
            return split if data.qrels.get(split) else None

        return cls(present(config.train_split), present(config.test_split),
                   root / f"{config.train_split}.tsv", root / f"{config.test_split}.tsv")

    def train_queries(self, data: BeirData, cap: int | None) -> list[str]:
        """The queries to label (queries.jsonl order), the first ``cap`` of them: those of the train qrels; without
        train qrels every query that is not a test query (all of them without test qrels either)."""
        if self.train is not None:
            return data.split_queries(self.train)[:cap]
        test = set(data.qrels[self.test]) if self.test is not None else set()
        return [q for q in data.queries if q not in test][:cap]

    def train_queries_from(self) -> str:
        """Where :meth:`train_queries` takes the queries from, in words (for logs and reports)."""
        if self.train is not None:
            return f"the queries of {self.train_file}"
        rest = "every query that is not a test query" if self.test is not None else "every query (no test qrels either)"
        return f"{self._missing('train')}: {rest}"

    def _missing(self, role: str) -> str:
        f = self.train_file if role == "train" else self.test_file
        return f"no {role} qrels ({f} is missing or has no relevant pair)"

    def why_skip(self, method: str) -> str | None:
        """Why ``method`` cannot run on these qrels (None: it can)."""
        if method in TRAIN_GOLD and self.train is None:
            return f"{self._missing('train')}: it trains on them"
        if method in MEASURE_ONLY and self.test is None:
            return f"{self._missing('test')}: its only output is test metrics"
        return None

    def skipped_metrics(self, methods: list[str]) -> dict[str, str]:
        """What of the result cannot be measured on these qrels, and why, for a run of ``methods``."""
        out = {}
        if self.test is None and methods:
            out["test metrics"] = (f"{self._missing('test')}: nDCG@10, Recall@100, with_bm25 and the comparisons "
                                   "need them; trained retrievers are saved without them")
        if self.train is None and set(POLAR_METHODS) & set(methods):
            out["risk calibration"] = (f"{self._missing('train')}: the LLM judgements' error rate, ECE and AUROC "
                                       "need them; their mean risks are reported")
        return out
