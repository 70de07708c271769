"""Baseline estimates of the same quantity as POLAR: P(the LLM's answer is wrong).

Every function returns shape (n,), float in [0, 1], NaN where the answer is -1 (abstain).
``L`` is shape (n, m), int, -1 = abstain; ``answers`` shape (n,) (usually the LLM's column
of ``L``). Whether ``L`` includes the LLM's own column is the caller's choice (the POLAR
paper's baselines fit the label models on all sources, the LLM included).
"""
from __future__ import annotations

import numpy as np

from ..labelmodels.dawid_skene import DawidSkene
from ..labelmodels.majority import vote_counts
from ..validation import check_votes
from ..labelmodels.snorkel_model import SnorkelLabelModel
from .score import risk_score


def llm_probability_risk(llm_proba: np.ndarray, answers: np.ndarray) -> np.ndarray:
    """The LLM's own uncertainty: ``1 - p_LLM[answer]``.

    Args:
        llm_proba: shape (n, k), the LLM's distribution over the classes (rows with no
            distribution may be NaN; their risk is NaN).
        answers: shape (n,).
    """
    return risk_score(np.asarray(llm_proba, dtype=np.float64), answers)


def majority_vote_risk(L: np.ndarray, answers: np.ndarray, n_classes: int) -> np.ndarray:
    """``1 - (share of the non-abstaining sources that voted the answer)``; NaN where no source voted.

    This is 1 minus the answer's mass under the vote-share ("soft majority vote") posterior.
    """
    votes = check_votes(L, n_classes=n_classes)
    counts = vote_counts(votes, n_classes).astype(np.float64)
    total = counts.sum(axis=1, keepdims=True)
    share = counts / np.maximum(total, 1.0)
    risk = risk_score(share, answers)
    risk[total[:, 0] == 0] = np.nan
    return risk


def snorkel_risk(L: np.ndarray, answers: np.ndarray, n_classes: int, **settings) -> np.ndarray:
    """``1 - P_Snorkel(Y = answer | votes)`` from Snorkel's LabelModel fitted on ``L``.

    Args:
        **settings: :class:`polarlab.labelmodels.SnorkelLabelModel` settings (epochs, lr, seed...).
    """
    model = SnorkelLabelModel(n_classes, **settings).fit(L)
    return risk_score(model.predict_proba(L), answers)


def dawid_skene_risk(L: np.ndarray, answers: np.ndarray, n_classes: int, **settings) -> np.ndarray:
    """``1 - P_DS(Y = answer | votes)`` from Dawid–Skene (crowd-kit) fitted on ``L``."""
    model = DawidSkene(n_classes, **settings).fit(L)
    return risk_score(model.predict_proba(L), answers)


def llm_distilled_risk(llm_votes: np.ndarray, X: np.ndarray, answers: np.ndarray, n_classes: int,
                       X_eval: np.ndarray | None = None, **harmonizer_settings) -> np.ndarray:
    """``1 - h(x)[answer]`` for a harmonizer trained on the LLM's votes alone (no other sources).

    Args:
        llm_votes: shape (n,), the LLM's votes on the training rows (-1 = none).
        X: shape (n, d), training features.
        answers: shape (n_eval,), answers to score.
        X_eval: shape (n_eval, d), features of the scored rows (default ``X``).
        **harmonizer_settings: :class:`polarlab.harmonizer.PolarHarmonizer` settings.
    """
    from ..harmonizer import PolarHarmonizer

    h = PolarHarmonizer(n_classes, **{"combine": "h", **harmonizer_settings})   # h(x) of the LLM alone
    h.fit(np.asarray(llm_votes).reshape(-1, 1), X)
    return risk_score(h.predict_proba(None, X if X_eval is None else X_eval), answers)


def baseline_risks(L: np.ndarray, answers: np.ndarray, n_classes: int, *,
                   llm_proba: np.ndarray | None = None, llm_votes: np.ndarray | None = None,
                   X: np.ndarray | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """Every baseline that the inputs allow, by name; each value shape (n,).

    ``llm_probability`` needs ``llm_proba``; ``llm_distilled`` needs ``llm_votes`` and ``X``.
    """
    out = {
        "majority_vote": majority_vote_risk(L, answers, n_classes),
        "snorkel": snorkel_risk(L, answers, n_classes, seed=seed),
        "dawid_skene": dawid_skene_risk(L, answers, n_classes),
    }
    if llm_proba is not None:
        out["llm_probability"] = llm_probability_risk(llm_proba, answers)
    if llm_votes is not None and X is not None:
        out["llm_distilled"] = llm_distilled_risk(llm_votes, X, answers, n_classes, seed=seed)
    return out
