"""Self-training: add confident pseudo-labels of the unlabelled pool, retrain, repeat.

Following Amini et al., "Self-Training: A Survey" (2022) and the adaptive, class-balanced selection of
ASPL-style methods: each round the current model labels the whole pool afresh (earlier pseudo-labels
are not frozen, so a mistake can be undone), and the most confident predictions above ``threshold``
join the training rows, at most ``cap_c = ceil(budget * prior_c)`` per class, where ``prior_c`` is the
class share of the labelled rows and ``budget`` grows by ``per_round * |pool|`` each round. The caps
keep one dominant class from swallowing the pool (class collapse). A pseudo-labelled row is trained
on its one-hot label with weight = the model's confidence.

Which round is kept (no gold): a slice of the labelled rows is held out, and each round's model is compared
with the kept one and with round 0 on it, by agreement with those rows' labels. With
``accept="non_inferior"`` (the default) a round replaces the kept one unless it is significantly worse than
either: among the held-out rows where exactly one of the two models agrees with the label, the new one loses
more often than a fair coin would allow (one-sided exact binomial test at ``alpha``; McNemar's test). The held-out labels are the weak labels
themselves, so a model that learns from the rows no source covers is expected to drift from them a little;
a strict "must agree more" rule (``accept="improve"``) then keeps round 0 on noise alone (measured on sms in
``benchmarks/end_model.py``). Stopping rule: stop when the pool's predicted labels change on fewer than
``tol`` of the pool rows between rounds, when ``patience`` rounds in a row were not accepted, when no pool
row is confident enough, or after ``max_rounds``. The kept model is then fitted once more on every labelled
row (the held-out slice included) plus the kept round's pseudo-labels, so a run that keeps round 0 gives
the same model as training without self-training.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import InputError
from .base import EndModel, texts_of
from .targets import Targets


@dataclass
class Round:
    """One self-training round (round 0 = trained on the labelled rows only)."""

    round: int
    n_pseudo: int
    per_class: list[int]
    heldout_agreement: float
    pool_change: float | None
    accepted: bool = True

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class SelfTrainingResult:
    """History and stop reason of a self-training run."""

    rounds: list[Round] = field(default_factory=list)
    best_round: int = 0
    stop_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"rounds": [r.to_dict() for r in self.rounds], "best_round": self.best_round,
                "stop_reason": self.stop_reason}


class SelfTraining:
    """Wraps an end model with self-training rounds.

    Args:
        model: an unfitted :class:`EndModel`.
        max_rounds: rounds after round 0.
        threshold: minimum confidence (max class probability) of a pseudo-label.
        per_round: share of the pool the budget grows by each round.
        tol: stop when fewer than this share of the pool changes its predicted label.
        val_fraction: labelled rows held out to measure agreement (trained on only in the final refit).
        patience: rounds in a row not accepted before stopping.
        seed: held-out split.
        accept: ``"non_inferior"`` (keep a round unless significantly worse on the held-out rows) or
            ``"improve"`` (keep it only if its held-out agreement is higher).
        alpha: significance level of the non-inferiority test.
        on_round: called as ``on_round(round, model)`` after each round's fit (round 0 included), e.g. to
            score every round on a test split in a benchmark; it cannot change the run.

    Attributes (after fit): ``model_`` (the kept model), ``result_`` (:class:`SelfTrainingResult`),
    ``prior_`` (k,) the class shares of the labelled training rows the caps follow.
    """

    def __init__(self, model: EndModel, max_rounds: int = 5, threshold: float = 0.5, per_round: float = 0.2,
                 tol: float = 0.01, val_fraction: float = 0.1, patience: int = 1, seed: int = 0,
                 accept: str = "non_inferior", alpha: float = 0.05,
                 on_round: Callable[[int, EndModel], None] | None = None) -> None:
        if max_rounds < 1 or not 0 < threshold < 1 or not 0 < per_round <= 1 or not 0 <= val_fraction < 1:
            raise InputError(f"max_rounds={max_rounds}, threshold={threshold}, per_round={per_round}, "
                             f"val_fraction={val_fraction}", column="self_training",
                             fix="use max_rounds >= 1, 0 < threshold < 1, 0 < per_round <= 1, 0 <= val_fraction < 1")
        self.model, self.max_rounds, self.threshold = model, int(max_rounds), float(threshold)
        self.per_round, self.tol, self.val_fraction = float(per_round), float(tol), float(val_fraction)
        self.patience, self.seed = int(patience), int(seed)
        if accept not in ACCEPT_RULES or not 0 < alpha < 1:
            raise InputError(f"accept={accept!r}, alpha={alpha}", column="self_training.accept",
                             fix=f"use accept in {list(ACCEPT_RULES)} and 0 < alpha < 1")
        self.accept, self.alpha = accept, float(alpha)
        self.on_round = on_round

    def fit(self, labelled: Dataset | Sequence[str], targets: Targets, pool: Dataset | Sequence[str]
            ) -> "SelfTraining":
        """Train on ``labelled`` rows with ``targets``, then self-train on the unlabelled ``pool``."""
        return self.fit_encoded(self.model.encode(texts_of(labelled)), targets, self.model.encode(texts_of(pool)))

    def fit_encoded(self, F_lab: np.ndarray, targets: Targets, F_pool: np.ndarray) -> "SelfTraining":
        """:meth:`fit` on model inputs (``model.encode`` of the labelled rows and of the pool)."""
        m = self.model
        if len(F_lab) != len(targets):
            raise InputError(f"{len(F_lab)} labelled examples but {len(targets)} targets", column="targets",
                             fix="pass one target row per labelled example")
        P, w = targets.resolved()
        n, k = P.shape
        rng = np.random.default_rng(self.seed)
        n_val = int(round(self.val_fraction * n)) if n >= 20 else 0
        perm = rng.permutation(n)
        vi, ti = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        prior = (P[ti] * w[ti, None]).sum(0)
        prior = prior / prior.sum() if prior.sum() > 0 else np.full(k, 1.0 / k)
        self.prior_ = prior

        target = P[vi].argmax(1)

        def heldout(model: EndModel) -> tuple[np.ndarray, float]:
            """(n_val,) whether the model agrees with each held-out row's label; weighted agreement."""
            if not n_val:
                return np.zeros(0, dtype=bool), float("nan")
            hit = model.predict_proba_encoded(F_lab[vi]).argmax(1) == target
            return hit, float((w[vi] * hit).sum() / max(w[vi].sum(), 1e-12))

        result = SelfTrainingResult()
        # copy.copy: fitting rebinds the weights, so copies share only the loaded encoder
        current = copy.copy(m).fit_encoded(F_lab[ti], P[ti], w[ti])
        self._report(0, current)
        best_hit, best_score = heldout(current)
        hit0, score0, rule = best_hit, best_score, ACCEPT_RULES[self.accept]
        bad = 0
        best_pseudo = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0))
        pool_pred = current.predict_proba_encoded(F_pool) if len(F_pool) else np.zeros((0, k))
        result.rounds.append(Round(0, 0, [0] * k, best_score, None))
        result.stop_reason = "max_rounds"
        for r in range(1, self.max_rounds + 1):
            if len(F_pool) == 0:
                result.stop_reason = "empty pool"
                break
            chosen, counts = self._select(pool_pred, prior, r * self.per_round * len(F_pool))
            if chosen.size == 0:
                result.stop_reason = "no confident pool rows"
                break
            labels = pool_pred[chosen].argmax(1)
            P_r = np.vstack([P[ti], np.eye(k)[labels]])
            w_r = np.concatenate([w[ti], pool_pred[chosen].max(1)])
            F_r = _stack(F_lab[ti], F_pool[chosen])
            current = copy.copy(m).fit_encoded(F_r, P_r, w_r)
            self._report(r, current)
            new_pred = current.predict_proba_encoded(F_pool)
            change = float((new_pred.argmax(1) != pool_pred.argmax(1)).mean())
            pool_pred = new_pred
            hit, score = heldout(current)
            # against the kept round and against round 0 (no slow drift through many "not worse" rounds)
            accepted = not n_val or (rule(best_hit, hit, best_score, score, self.alpha)
                                     and rule(hit0, hit, score0, score, self.alpha))
            result.rounds.append(Round(r, int(chosen.size), counts, score, change, bool(accepted)))
            if accepted:
                best_hit, best_score, result.best_round, bad = hit, score, r, 0
                best_pseudo = (chosen, labels, w_r[len(ti):])
            else:
                bad += 1
            if change < self.tol:
                result.stop_reason = f"pool predictions changed on {change:.3%} < tol {self.tol:.1%}"
                break
            if bad >= self.patience:
                result.stop_reason = f"{bad} round(s) in a row not accepted on the held-out rows ({self.accept})"
                break
        rows, labels, weights = best_pseudo
        self.model_ = copy.copy(m).fit_encoded(_stack(F_lab, F_pool[rows]), np.vstack([P, np.eye(k)[labels]]),
                                               np.concatenate([w, weights]))
        self.result_ = result
        return self

    def _report(self, r: int, model: EndModel) -> None:
        if self.on_round is not None:
            self.on_round(r, model)

    def _select(self, proba: np.ndarray, prior: np.ndarray, budget: float) -> tuple[np.ndarray, list[int]]:
        """Pool rows to pseudo-label: confident, most confident first, at most ceil(budget * prior_c) per class."""
        conf, pred = proba.max(1), proba.argmax(1)
        chosen, counts = [], []
        for c in range(proba.shape[1]):
            cand = np.flatnonzero((pred == c) & (conf >= self.threshold))
            cap = int(math.ceil(budget * prior[c]))
            top = cand[np.argsort(-conf[cand], kind="stable")[:cap]]
            chosen.append(top)
            counts.append(int(top.size))
        return np.sort(np.concatenate(chosen)), counts

    def predict_proba(self, data: Dataset | Sequence[str]) -> np.ndarray:
        return self.model_.predict_proba(data)


def improves(old_hit: np.ndarray, new_hit: np.ndarray, old: float, new: float, alpha: float) -> bool:
    """The new round agrees more with the held-out labels (weighted)."""
    return new > old + 1e-9


def non_inferior(old_hit: np.ndarray, new_hit: np.ndarray, old: float, new: float, alpha: float) -> bool:
    """Not significantly worse: of the held-out rows where exactly one model agrees with the label, the new
    model's losses are not more than a fair coin allows (one-sided exact binomial / McNemar test)."""
    from scipy.stats import binomtest

    losses, gains = int((old_hit & ~new_hit).sum()), int((new_hit & ~old_hit).sum())
    if losses <= gains:
        return True
    return binomtest(losses, losses + gains, 0.5, alternative="greater").pvalue >= alpha


ACCEPT_RULES: dict[str, Callable[[np.ndarray, np.ndarray, float, float, float], bool]] = {
    "non_inferior": non_inferior, "improve": improves}


def _stack(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.concatenate([a, b]) if a.ndim == 1 else np.vstack([a, b])
