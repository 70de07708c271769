"""Source reweighting from the covariance of the sources' loss gradients.

POLAR (Zhao et al. 2023) fits the harmonizer to a weighted combination of per-source
losses; this module chooses the weights ``w`` (shape (m,), non-negative, mean 1) without
gold labels. Both methods start from the gradient of each source's cross-entropy with
respect to the harmonizer's logits, per example::

    g_ij = h(x_i) - onehot(L_ij)      (shape (k,); 0 where source j abstained)

and form an (m, m) matrix of their second moments across sources.

``max_eigen`` — maximum eigenvalue. The matrix is the centred covariance of the ``g_ij``
over all rows at the *uninformed* harmonizer ``h = uniform``, where ``g_ij`` encodes only
the vote (:func:`agreement_covariance`). Under conditionally independent sources its
off-diagonal is rank one with loadings equal to each source's discriminative power, so
the eigenvector of the maximum eigenvalue (after fitting the diagonal to the rank-one
structure, as in the spectral meta-learner of Parisi et al., PNAS 2014) estimates how much
each source tells about the class; divided by coverage it is a per-vote weight
(:func:`max_eigen_weights`). Property: sources that are more accurate when they vote get
larger weights, a source voting at random gets ~0, a worse-than-random one 0. Limitation
(inherent in the method): redundancy is not penalised — an exact copy of a source gets
the same weight as the original, so the pair counts twice.

``min_var`` — minimum variance. The matrix ``S`` is the mean inner product of two
sources' gradients over the rows both voted on, at a harmonizer first fitted with equal
weights (:func:`residual_moments`): ``g_ij`` is then source j's "forecast error" relative to
the harmonizer. The weights minimise the variance of the combined gradient,
``w = argmin_{w >= 0, sum w = 1} w^T S w`` (Bates & Granger's minimum-variance forecast
combination; :func:`min_var_weights`). Property: a source that disagrees more with the
harmonizer (larger ``S_jj``) gets less weight, and perfectly redundant sources (exact
copies) share the weight one of them would get alone — duplicating a source leaves the
pair's total weight, and every other source's weight relative to it, unchanged (up to the
small ridge).

Both return weights scaled to mean 1 so the loss keeps the scale of equal weighting.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
from scipy.optimize import minimize

ReweightMethod = Literal["max_eigen", "min_var"]


def loss_gradients(L: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Gradient of each source's cross-entropy w.r.t. the harmonizer's logits.

    Args:
        L: votes, shape (n, m), int, -1 = abstain.
        proba: the harmonizer's distribution h(x), shape (n, k).

    Returns:
        shape (n, m, k): ``proba[i] - onehot(L[i, j])``, zeros where source j abstained.
    """
    L = np.asarray(L, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n, m = L.shape
    k = proba.shape[1]
    if proba.shape[0] != n:
        raise ValueError(f"proba has {proba.shape[0]} rows, L has {n}")
    mask = L >= 0
    G = np.repeat(proba[:, None, :], m, axis=1)
    rows, cols = np.nonzero(mask)
    G[rows, cols, L[rows, cols]] -= 1.0
    G[~mask] = 0.0
    return G


def _class_slices(L: np.ndarray, proba: np.ndarray):
    """Yield ``G[:, :, c]`` of :func:`loss_gradients` for each class c, shape (n, m) each,
    so that the (n, m, k) array never has to exist at once."""
    mask = L >= 0
    for c in range(proba.shape[1]):
        Gc = np.repeat(proba[:, c:c + 1], L.shape[1], axis=1)
        Gc -= (L == c)
        Gc[~mask] = 0.0
        yield Gc


def agreement_covariance(L: np.ndarray, n_classes: int) -> np.ndarray:
    """Covariance of the sources' loss gradients at the uninformed harmonizer.

    At ``h(x) = uniform`` the gradient ``g_ij = 1/k - onehot(L_ij)`` (0 where source j
    abstained) only encodes the vote. Centred over all n rows (abstentions included)::

        Cov_jk = (1/n) sum_i <g_ij - mean_i g_ij, g_ik - mean_i g_ik>

    For two classes this is (up to a constant) the covariance of the +1/-1/0-coded votes,
    so two sources that fire on the same class-consistent rows covary positively even when
    they never vote at the same time (e.g. a "spam" rule and a "ham" rule).

    Args:
        L: shape (n, m), -1 = abstain.
        n_classes: k.

    Returns:
        shape (m, m), symmetric.
    """
    L = np.asarray(L, dtype=np.int64)
    n, m = L.shape
    cov = np.zeros((m, m))
    for Gc in _class_slices(L, np.full((n, n_classes), 1.0 / n_classes)):
        Gc -= Gc.mean(axis=0, keepdims=True)
        cov += Gc.T @ Gc
    cov /= max(n, 1)
    return 0.5 * (cov + cov.T)


def residual_moments(L: np.ndarray, proba: np.ndarray, min_overlap: int = 10) -> np.ndarray:
    """Mean inner product of two sources' loss gradients over the rows both voted on.

    Args:
        L: shape (n, m), -1 = abstain.
        proba: shape (n, k), the harmonizer h(x) at which the gradients are taken.
        min_overlap: pairs voting together on fewer rows are treated as uncorrelated (0).

    Returns:
        shape (m, m), projected onto the positive-semidefinite cone; row/column j is 0 for a
        source that never voted.
    """
    L = np.asarray(L, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape[0] != L.shape[0]:
        raise ValueError(f"proba has {proba.shape[0]} rows, L has {L.shape[0]}")
    m = L.shape[1]
    inner = np.zeros((m, m))                                # sum_i <g_ij, g_ik>
    for Gc in _class_slices(L, proba):
        inner += Gc.T @ Gc
    mask = (L >= 0).astype(np.float64)
    overlap = mask.T @ mask                                 # rows both voted
    ok = overlap >= min_overlap
    np.fill_diagonal(ok, np.diag(overlap) > 0)
    S = np.where(ok, inner / np.maximum(overlap, 1.0), 0.0)
    return _nearest_psd(0.5 * (S + S.T))


def _nearest_psd(A: np.ndarray) -> np.ndarray:
    vals, vecs = np.linalg.eigh(A)
    return (vecs * np.clip(vals, 0.0, None)) @ vecs.T


def _mean_one(w: np.ndarray) -> np.ndarray:
    w = np.clip(np.asarray(w, dtype=np.float64), 0.0, None)
    total = w.sum()
    if not np.isfinite(total) or total <= 0:
        return np.ones_like(w)
    return w * (len(w) / total)


def max_eigen_weights(cov: np.ndarray, coverage: np.ndarray | None = None, n_iter: int = 200,
                      tol: float = 1e-12, max_ratio: float = 10.0) -> np.ndarray:
    """Weights from the leading eigenvector of the agreement covariance.

    Under conditionally independent sources the off-diagonal of ``cov`` is (close to)
    rank one, ``cov_jk ~ a_j a_k``, with ``a_j`` source j's discriminative power
    (for two classes ``a_j = P(vote c | Y = c) - P(vote c | Y != c)``, coverage included).
    The diagonal (each source's own variance) does not follow that structure, so it is
    replaced by the rank-one fit ``lambda v_j^2`` and the decomposition repeated until it
    settles (the spectral meta-learner's approach). Dividing the loading by the source's
    coverage turns it into a per-vote weight (for balanced binary classes ``a_j / coverage_j
    = 2 (2 precision_j - 1)``, i.e. accuracy above chance when it votes).

    Args:
        cov: shape (m, m), :func:`agreement_covariance`.
        coverage: shape (m,), share of rows each source voted on (``None`` = all 1).
        max_ratio: no weight exceeds ``max_ratio`` times the median positive weight
            (guards sources with tiny coverage).

    Returns:
        shape (m,), non-negative, mean 1 (equal weights when nothing covaries). Sources whose
        loading is negative (worse than chance) or that never voted get 0.
    """
    cov = np.array(cov, dtype=np.float64)
    m = cov.shape[0]
    if m == 1:
        return np.ones(1)
    A = cov.copy()
    np.fill_diagonal(A, 0.0)
    prev = np.zeros(m)
    v = np.ones(m) / np.sqrt(m)
    for _ in range(n_iter):
        vals, vecs = np.linalg.eigh(A)
        lam, v = vals[-1], vecs[:, -1]
        diag = max(lam, 0.0) * v ** 2
        np.fill_diagonal(A, diag)
        if np.abs(diag - prev).max() < tol:
            break
        prev = diag
    if v.sum() < 0:
        v = -v
    cov_ = np.ones(m) if coverage is None else np.asarray(coverage, dtype=np.float64)
    w = np.where(cov_ > 0, np.clip(v, 0.0, None) / np.where(cov_ > 0, cov_, 1.0), 0.0)
    pos = w[w > 0]
    if pos.size:
        w = np.minimum(w, max_ratio * float(np.median(pos)))
    return _mean_one(w)


def min_var_weights(S: np.ndarray, ridge: float = 1e-6) -> np.ndarray:
    """Minimum-variance weights: ``argmin w^T (S + r I) w`` s.t. ``w >= 0, sum w = 1``.

    Args:
        S: shape (m, m), positive semidefinite loss-gradient covariance.
        ridge: ``r`` relative to the mean diagonal of ``S`` (keeps the problem strictly
            convex, so exact copies split their weight evenly).

    Returns:
        shape (m,), non-negative, mean 1.
    """
    S_all = np.array(S, dtype=np.float64)
    active = np.diag(S_all) > 0          # a source that never voted has a zero row ...
    if not active.any():
        return np.ones(S_all.shape[0])
    if not active.all():                 # ... is solved without; never-voted get 0 below
        out = np.zeros(S_all.shape[0])
        out[active] = min_var_weights(S_all[np.ix_(active, active)], ridge=ridge)
        return _mean_one(out)
    S = S_all
    m = S.shape[0]
    scale = float(np.mean(np.diag(S)))
    A = S / scale + ridge * np.eye(m)
    # unconstrained optimum first; fall back to the constrained QP if it is not >= 0
    try:
        w = np.linalg.solve(A, np.ones(m))
    except np.linalg.LinAlgError:
        w = np.full(m, -1.0)
    if np.all(w >= 0) and w.sum() > 0:
        return _mean_one(w)
    res = minimize(lambda x: x @ A @ x, np.full(m, 1.0 / m), jac=lambda x: 2 * A @ x,
                   method="SLSQP", bounds=[(0.0, None)] * m,
                   constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1.0,
                                 "jac": lambda x: np.ones_like(x)}],
                   options={"ftol": 1e-12, "maxiter": 500})
    return _mean_one(res.x)


def source_weights(L: np.ndarray, method: str, *, proba: np.ndarray | None = None,
                   n_classes: int | None = None, min_overlap: int = 10) -> np.ndarray:
    """Per-source weights by ``method``.

    Args:
        L: shape (n, m), -1 = abstain.
        method: ``"max_eigen"`` (needs ``n_classes``; gradients at the uniform harmonizer)
            or ``"min_var"`` (needs ``proba``, shape (n, k): a harmonizer fitted with equal
            weights, see the module docstring).

    Returns:
        shape (m,), non-negative, mean 1.
    """
    L = np.asarray(L, dtype=np.int64)
    if method == "max_eigen":
        if n_classes is None:
            raise ValueError("max_eigen needs n_classes")
        return max_eigen_weights(agreement_covariance(L, n_classes), coverage=(L >= 0).mean(axis=0))
    if method == "min_var":
        if proba is None:
            raise ValueError("min_var needs proba, the harmonizer's h(x) on the rows of L")
        return min_var_weights(residual_moments(L, proba, min_overlap=min_overlap))
    raise ValueError(f"unknown reweighting method {method!r}; use 'max_eigen' or 'min_var'")
