"""Scalarizations: combine the per-source losses of each example into one number.

POLAR (Zhao et al. 2023, arXiv 2306.16564) fits the harmonizer h by minimising
``E_x[ G(w_1 l_1(x), ..., w_m l_m(x)) ]`` where ``l_j(x)`` is the cross-entropy of h(x)
against source j's vote. Every function here is a pure torch function of

* ``losses``  shape (b, m), float, ``l_j`` per example and source (any value where masked),
* ``mask``    shape (b, m), bool, True where source j voted on the example,
* ``weights`` shape (m,), float, non-negative per-source weights,

and returns shape (b,): one scalarized loss per example. Sources that abstained on an
example are left out of its combination; an example where every source abstained gets 0.
"""
from __future__ import annotations

from typing import Callable, Literal

import torch

Scalarization = Literal["linear", "square", "2norm", "max"]


def _weighted(losses: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``w_j * l_j`` where source j voted, 0 elsewhere; shape (b, m)."""
    wl = losses * weights.to(losses.dtype).unsqueeze(0)
    return torch.where(mask, wl, torch.zeros((), dtype=wl.dtype, device=wl.device))


def linear(losses: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``sum_j w_j l_j`` over the sources that voted; shape (b,)."""
    return _weighted(losses, mask, weights).sum(dim=1)


def square(losses: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``(sum_j w_j l_j)^2`` over the sources that voted; shape (b,)."""
    return linear(losses, mask, weights).pow(2)


def two_norm(losses: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``||(w_j l_j)_j||_2`` over the sources that voted; shape (b,).

    The gradient at an all-zero row (all sources abstained) is defined as 0.
    """
    sq = _weighted(losses, mask, weights).pow(2).sum(dim=1)
    pos = sq > 0
    safe = torch.where(pos, sq, torch.ones((), dtype=sq.dtype, device=sq.device))
    return torch.where(pos, safe.sqrt(), torch.zeros((), dtype=sq.dtype, device=sq.device))


def chebyshev(losses: torch.Tensor, mask: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """``max_j w_j l_j`` over the sources that voted, 0 where none voted; shape (b,)."""
    wl = losses * weights.to(losses.dtype).unsqueeze(0)
    neg_inf = torch.full((), float("-inf"), dtype=wl.dtype, device=wl.device)
    best = torch.where(mask, wl, neg_inf).max(dim=1).values
    return torch.where(mask.any(dim=1), best, torch.zeros((), dtype=wl.dtype, device=wl.device))


SCALARIZATIONS: dict[str, Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "linear": linear,
    "square": square,
    "2norm": two_norm,
    "max": chebyshev,
}


def scalarize(kind: str, losses: torch.Tensor, mask: torch.Tensor,
              weights: torch.Tensor) -> torch.Tensor:
    """Apply the scalarization named ``kind`` (``linear | square | 2norm | max``); shape (b,)."""
    try:
        fn = SCALARIZATIONS[kind]
    except KeyError:
        raise ValueError(f"unknown scalarization {kind!r}; use one of {sorted(SCALARIZATIONS)}") from None
    return fn(losses, mask, weights)


def source_losses(logits: torch.Tensor, votes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of ``softmax(logits)`` against every source's vote.

    Args:
        logits: shape (b, k).
        votes: shape (b, m), int64, class index or -1 (abstain).

    Returns:
        ``(losses, mask)``: losses shape (b, m) (0 where abstained), mask shape (b, m) bool.
    """
    mask = votes >= 0
    logp = torch.log_softmax(logits, dim=1)
    idx = votes.clamp_min(0)
    losses = -torch.gather(logp, 1, idx)
    losses = torch.where(mask, losses, torch.zeros((), dtype=losses.dtype, device=losses.device))
    return losses, mask


# ---------------------------------------------------------------------------------------------
# Class-aggregated form (what training uses). Source j's loss on example i depends only on the
# class it voted: l_ij = -log h(x_i)[L_ij]. So every scalarization is a function of the k
# class losses nll_ic = -log h(x_i)[c] and one (b, k) aggregate of the weights of the sources
# that voted each class:
#   linear / square:  A_ic = sum_{j: L_ij = c} w_j      sum_j w_j l_ij      = sum_c A_ic nll_ic
#   2norm:            A_ic = sum_{j: L_ij = c} w_j^2    sum_j (w_j l_ij)^2  = sum_c A_ic nll_ic^2
#   max:              A_ic = max_{j: L_ij = c} w_j      max_j w_j l_ij      = max_c A_ic nll_ic
# (A_ic = 0 where no source voted c). This costs O(b k) per step instead of O(b m).
# ---------------------------------------------------------------------------------------------

def class_aggregate(kind: str, votes: torch.Tensor, weights: torch.Tensor, n_classes: int) -> torch.Tensor:
    """The (b, k) weight aggregate for scalarization ``kind`` (see the comment above).

    Args:
        votes: shape (b, m), int64, -1 = abstain.
        weights: shape (m,), non-negative.
        n_classes: k.
    """
    if kind not in SCALARIZATIONS:
        raise ValueError(f"unknown scalarization {kind!r}; use one of {sorted(SCALARIZATIONS)}")
    w = weights.to(torch.float32)
    if kind == "2norm":
        w = w * w
    cols = []
    for c in range(n_classes):                     # (b, m) masks, one class at a time
        hit = (votes == c).to(torch.float32)
        cols.append((hit * w).amax(dim=1) if kind == "max" else hit @ w)
    return torch.stack(cols, dim=1)


def scalarize_by_class(kind: str, nll: torch.Tensor, agg: torch.Tensor, dim: int = 1) -> torch.Tensor:
    """Scalarized loss per example from class losses; equals :func:`scalarize` of
    :func:`source_losses` (tested).

    Args:
        nll: shape (b, k), ``-log h(x)[c]`` (or (k, b) with ``dim=0``: class-major layout,
            much faster on CPU when k is small).
        agg: same shape, :func:`class_aggregate` for the same ``kind``.
        dim: the class axis.

    Returns:
        shape (b,).
    """
    if kind == "linear":
        return (agg * nll).sum(dim=dim)
    if kind == "square":
        return (agg * nll).sum(dim=dim).pow(2)
    if kind == "2norm":
        sq = (agg * nll.pow(2)).sum(dim=dim)
        pos = sq > 0
        safe = torch.where(pos, sq, torch.ones((), dtype=sq.dtype, device=sq.device))
        return torch.where(pos, safe.sqrt(), torch.zeros((), dtype=sq.dtype, device=sq.device))
    if kind == "max":
        return (agg * nll).max(dim=dim).values
    raise ValueError(f"unknown scalarization {kind!r}; use one of {sorted(SCALARIZATIONS)}")
