"""Adaptive self-training (ARL2, Zhang et al. 2024, arXiv 2402.13542), with POLAR as the labeler.

Round 0 spends ``first_share`` of the LLM budget on the pool pairs in fused-rank order (every
query's top pair first), harmonizes the LLM with the cheap sources and trains a retriever. Each
later round:

1. the current retriever scores every pool pair; within a query its scores become
   P_ret(d | q) = softmax(scale * cos) over the query's pool pairs;
2. **the LLM gets the uncertain pairs**: uncertainty ``1 - |2 P_ret - 1|`` (pairs the retriever
   splits its belief on), at most ``per_query`` new pairs per query per round (diversity: the
   round's budget is spread over queries), within the round's share of the remaining budget;
3. **the retriever labels the confident pairs** itself: a ``retriever`` source votes 1 where
   P_ret >= ``confident_hi`` and 0 where P_ret <= ``confident_lo``;
4. POLAR harmonizes LLM + cheap sources + retriever votes; a fresh retriever is trained on the
   harmonized labels.

Stopping rule: the budget is spent, ``max_rounds`` rounds ran, or fewer than ``min_change`` of
the pool's hard labels (P >= 0.5) changed in the last round.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from .beir import BeirData
from .candidates import DenseRetriever
from .harmonize import Harmonized, harmonize
from .judge import RelevanceJudge
from .labels import triplets_from_scores
from .pool import Pool
from .trainer import BiEncoderTrainer


@dataclass
class RoundRecord:
    """One round: LLM pairs asked (new), LLM judgements so far, retriever votes, label change."""

    round: int
    asked: int
    llm_judged: int
    retriever_votes: int
    changed: float | None     # share of pool labels that changed (None in round 0)
    triplets: int
    train_seconds: float = 0.0   # the round's training time (when it trained; else the saved model's)


@dataclass
class AdaptiveSelfTraining:
    """The ARL2 loop (see the module docstring).

    Parameters:
        budget: LLM judgements in all (cache hits count: the budget is of judgements, not of money).
        max_rounds: rounds after round 0.
        first_share: share of the budget spent in round 0.
        per_query: new LLM pairs per query per round.
        confident_hi, confident_lo: retriever vote thresholds on P_ret.
        scale: cosine scale of P_ret (the training loss's).
        min_change: stop when fewer pool labels than this share changed.
        max_positives: positives per query in the training triplets.
        hard_negatives: hard negatives per positive (pool pairs labelled not relevant, best-ranked first).
    """

    budget: int
    max_rounds: int = 1
    first_share: float = 0.5
    per_query: int = 1
    confident_hi: float = 0.8
    confident_lo: float = 0.01
    scale: float = 20.0
    min_change: float = 0.01
    max_positives: int = 1
    hard_negatives: int = 1
    history_: list[RoundRecord] = field(default_factory=list)

    def fit(self, data: BeirData, pool: Pool, X: np.ndarray, cheap: dict[str, np.ndarray],
            judge: RelevanceJudge, trainer: BiEncoderTrainer, out_dir: str | Path,
            encoder_kw: dict | None = None, log: Callable[[str], None] = lambda s: None,
            ) -> "AdaptiveSelfTraining":
        """Run the loop; the final retriever is saved in ``out_dir`` (``model_path_``).

        Parameters:
            X: shape (n, d), pair features for the harmonizer.
            cheap: cheap-source votes on the pool, each shape (n,).
            encoder_kw: keyword arguments of :class:`DenseRetriever` for scoring the pool.
        """
        out_dir = Path(out_dir)
        n = len(pool)
        llm_vote = np.full(n, -1, dtype=np.int64)
        self.llm_p_ = np.full(n, np.nan)
        asked = np.zeros(n, dtype=bool)
        order = np.lexsort((np.arange(n), pool.rank_fused))      # fused rank 1 of every query first
        first = order[:int(round(self.budget * self.first_share))]
        self._ask(data, pool, judge, first, llm_vote, asked, self.llm_p_)
        h = harmonize(X, {**cheap, "llm": llm_vote})
        trips = triplets_from_scores(pool, h.p_relevant, max_pos=self.max_positives,
                                     n_neg=self.hard_negatives)
        trainer.fit(data, trips, out_dir / "round0")
        model = out_dir / "round0"
        self.history_ = [RoundRecord(0, len(first), int(asked.sum()), 0, None, len(trips),
                                     round(trainer.train_seconds_, 1))]
        log(f"self-training round 0: {len(first)} LLM pairs, {len(trips)} triplets")
        for r in range(1, self.max_rounds + 1):
            left = self.budget - int(asked.sum())
            if left <= 0:
                break
            p_ret = self._retriever_proba(data, pool, model, encoder_kw or {})
            take = self._pick(pool, p_ret, asked, left // (self.max_rounds - r + 1) or left)
            self._ask(data, pool, judge, take, llm_vote, asked, self.llm_p_)
            ret_vote = np.full(n, -1, dtype=np.int64)
            ret_vote[p_ret >= self.confident_hi] = 1
            ret_vote[p_ret <= self.confident_lo] = 0
            new = harmonize(X, {**cheap, "retriever": ret_vote, "llm": llm_vote})
            changed = float(np.mean((new.p_relevant >= 0.5) != (h.p_relevant >= 0.5)))
            h = new
            trips = triplets_from_scores(pool, h.p_relevant, max_pos=self.max_positives,
                                     n_neg=self.hard_negatives)
            model = out_dir / f"round{r}"
            trainer.fit(data, trips, model)
            self.history_.append(RoundRecord(r, len(take), int(asked.sum()), int((ret_vote >= 0).sum()),
                                             changed, len(trips), round(trainer.train_seconds_, 1)))
            log(f"self-training round {r}: {len(take)} new LLM pairs, {int((ret_vote >= 0).sum())} "
                f"retriever votes, {changed:.3f} of labels changed")
            if changed < self.min_change:
                break
        self.model_path_ = model
        self.harmonized_: Harmonized = h
        self.llm_judged_ = int(asked.sum())
        self.asked_ = asked
        self.llm_vote_ = llm_vote
        return self

    @staticmethod
    def _ask(data, pool, judge, rows, llm_vote, asked, llm_p) -> None:
        rows = np.asarray(rows, dtype=np.int64)
        if rows.size == 0:
            return
        res = judge.judge(data, [(pool.qids[i], int(pool.doc_idx[i])) for i in rows])
        llm_vote[rows] = res.votes
        llm_p[rows] = res.p_relevant
        asked[rows] = True

    def _retriever_proba(self, data: BeirData, pool: Pool, model: Path, encoder_kw: dict) -> np.ndarray:
        """P_ret(d | q) over each query's pool pairs, shape (n,)."""
        enc = DenseRetriever(model, **encoder_kw)
        qids = list(dict.fromkeys(pool.qids))
        Q = dict(zip(qids, enc.encode_queries(data, qids)))
        D = enc.encode_corpus(data)          # cached per model: the same encoding evaluates it afterwards
        cos = np.array([Q[q] @ D[int(d)] for q, d in zip(pool.qids, pool.doc_idx)])
        p = np.empty(len(pool))
        for q, rows in pool.by_query().items():
            z = self.scale * cos[rows]
            e = np.exp(z - z.max())
            p[rows] = e / e.sum()
        return p

    def _pick(self, pool: Pool, p_ret: np.ndarray, asked: np.ndarray, k: int) -> np.ndarray:
        """Up to ``k`` unasked pairs, most uncertain first, at most ``per_query`` per query."""
        u = 1.0 - np.abs(2.0 * p_ret - 1.0)
        u[asked] = -1.0
        chosen: list[int] = []
        per_q: dict[str, int] = {}
        for i in np.argsort(-u, kind="stable"):
            if len(chosen) >= k or u[i] < 0:
                break
            q = pool.qids[i]
            if per_q.get(q, 0) >= self.per_query:
                continue
            per_q[q] = per_q.get(q, 0) + 1
            chosen.append(int(i))
        return np.array(chosen, dtype=np.int64)
