"""Contextual calibration (Zhao et al. 2021, "Calibrate Before Use", arXiv 2102.09690).

An LLM's label distribution is biased by the prompt (label names, demonstrations, their order).
The bias is estimated by asking the same prompt with a content-free input ("N/A", "", "[MASK]")
and averaging the label distributions, ``p_cf``; each answer ``p`` is then corrected to
``q = (p / p_cf) / sum(p / p_cf)`` — the paper's ``W = diag(p_cf)^-1, b = 0`` followed by
renormalisation to a distribution.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..data.dataset import Example
from .request import PromptRequest

#: Content-free inputs of the paper.
CONTENT_FREE_INPUTS = ("N/A", "", "[MASK]")
_EPS = 1e-12


def content_free_requests(req: PromptRequest,
                          inputs: tuple[str, ...] = CONTENT_FREE_INPUTS) -> list[PromptRequest]:
    """The requests whose answers estimate the bias of ``req``'s prompt.

    Same demonstrations as ``req`` (they are the prompt's format); the example text (and the
    entities of relation tasks) replaced by each content-free input; evidence and previous
    answer dropped (they are content).
    """
    out = []
    for s in inputs:
        ex = Example(id=f"content-free:{s}", text=s, entity1=s, entity2=s)
        out.append(replace(req, example=ex, evidence=(), previous_answer=None, tag="content-free"))
    return out


def content_free_distribution(dists: np.ndarray) -> np.ndarray:
    """Mean of the content-free answers' distributions.

    Parameters:
        dists: shape (c, k), one distribution per content-free input (NaN rows ignored).

    Returns:
        shape (k,), normalised; NaN when no row is valid.
    """
    dists = np.asarray(dists, dtype=np.float64)
    ok = ~np.isnan(dists).any(axis=1)
    if not ok.any():
        return np.full(dists.shape[1], np.nan)
    p = dists[ok].mean(axis=0)
    return p / p.sum()


def calibrate(p: np.ndarray, p_cf: np.ndarray) -> np.ndarray:
    """Divide by the content-free distribution and renormalise.

    Parameters:
        p: shape (n, k) or (k,), label distributions.
        p_cf: shape (k,), the content-free distribution. NaN → ``p`` is returned unchanged.

    Returns:
        same shape as ``p``; rows of ``p`` that are NaN stay NaN.
    """
    p = np.asarray(p, dtype=np.float64)
    p_cf = np.asarray(p_cf, dtype=np.float64)
    if np.isnan(p_cf).any():
        return p.copy()
    q = p / np.maximum(p_cf, _EPS)
    return q / q.sum(axis=-1, keepdims=True)
