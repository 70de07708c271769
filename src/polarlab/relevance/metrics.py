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


def ndcg_per_query(run: Run, qrels: Qrels, k: int = 10) -> dict[str, float]:
    """nDCG@k of every query of ``qrels`` (query id -> value; 0 for a query the run does not cover)."""
    out = {}
    disc = 1.0 / np.log2(np.arange(2, k + 2))
    for q, rel in qrels.items():
        ranked = _ordered(run.get(q, {}))[:k]
        gains = np.array([rel.get(d, 0) for d in ranked], dtype=np.float64)
        dcg = float((gains * disc[:len(gains)]).sum())
        ideal = np.sort(np.array(list(rel.values()), dtype=np.float64))[::-1][:k]
        idcg = float((ideal * disc[:len(ideal)]).sum())
        out[q] = dcg / idcg if idcg > 0 else 0.0
    return out


def ndcg_at_k(run: Run, qrels: Qrels, k: int = 10) -> float:
    """Mean nDCG@k over the queries of ``qrels``."""
    vals = list(ndcg_per_query(run, qrels, k).values())
    return float(np.mean(vals)) if vals else float("nan")


def paired_bootstrap(a: dict[str, float], b: dict[str, float], n_boot: int = 10000, seed: int = 0,
                     level: float = 0.95) -> dict[str, float]:
    """Paired bootstrap of mean(a) - mean(b) over the queries both score (resampling queries).

    Parameters:
        a, b: query id -> per-query metric (e.g. :func:`ndcg_per_query` of two runs on the same qrels).

    Returns:
        ``{"diff", "lo", "hi", "p_not_better", "queries"}``: the observed difference, the ``level``
        percentile interval of the resampled differences, and the share of resamples with a
        difference <= 0 (a one-sided bootstrap p-value of "a is better than b").
    """
    qs = [q for q in a if q in b]
    if not qs:
        raise ValueError("paired_bootstrap: the two score sets share no query")
    d = np.array([a[q] - b[q] for q in qs], dtype=np.float64)
    rng = np.random.default_rng(seed)
    means = d[rng.integers(0, len(d), size=(n_boot, len(d)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    return {"diff": float(d.mean()), "lo": float(np.quantile(means, tail)),
            "hi": float(np.quantile(means, 1.0 - tail)), "p_not_better": float(np.mean(means <= 0)),
            "queries": len(qs)}


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
