"""nDCG@k and Recall@k of a run against qrels (trec_eval's definitions, as in BEIR).

nDCG@k: DCG = sum_{i<=k} rel_i / log2(i + 1) over the run's order (linear gain, as
``ndcg_cut`` of trec_eval); ideal DCG from the qrels' grades. Recall@k: relevant documents in
the top k / relevant documents. Both averaged over the queries of the qrels; a query the run
does not cover scores 0. Checked against ``ir_measures`` in the tests.
"""
from __future__ import annotations

import numpy as np

from .beir import Qrels
from .ranking import Run


def _ordered(docs: dict[str, float]) -> list[str]:
    # trec_eval order: score descending, ties by document id descending
    return [d for d, _ in sorted(docs.items(), key=lambda t: (-t[1], _neg(t[0])))]


class _neg(str):
    def __lt__(self, other):  # reverse string order for tie-breaking
        return str.__gt__(self, other)


def ndcg_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k over the queries of ``qrels``."""
    vals = []
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    for q, rel in qrels.items():
        ranked = _ordered(run.get(q, {}))[:k]
        gains = np.array([rel.get(d, 0) for d in ranked], dtype=np.float64)
        dcg = float((gains * disc[:len(gains)]).sum())
        ideal = np.sort(np.array(list(rel.values()), dtype=np.float64))[::-1][:k]
        idcg = float((ideal * disc[:len(ideal)]).sum())
        vals.append(dcg / idcg if idcg > 0 else 0.0)
    return float(np.mean(vals)) if vals else float("nan")


def recall_at_k(run: Run, qrels: Qrels, k: int = 100) -> float:
    """Mean Recall@k over the queries of ``qrels``."""
    vals = []
    for q, rel in qrels.items():
        top = set(_ordered(run.get(q, {}))[:k])
        pos = {d for d, g in rel.items() if g > 0}
        vals.append(len(top & pos) / len(pos) if pos else 0.0)
    return float(np.mean(vals)) if vals else float("nan")


def evaluate(run: Run, qrels: Qrels) -> dict[str, float]:
    """``{"ndcg@10", "recall@100"}``."""
    return {"ndcg@10": ndcg_at_k(run, qrels, 10), "recall@100": recall_at_k(run, qrels, 100)}
