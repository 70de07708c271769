"""The source groups that POLAR's gold-free selection leaves out in turn (``combine_groups_by``).

:func:`polarlab.harmonizer.select.select_by_agreement` scores every candidate final distribution by how well, fitted
without a group of sources, it agrees with that group's votes. Agreement with a left-out source tracks accuracy only
when the source's errors are independent of the votes the candidate still reads. Three groupings:

``"random"`` (default): a seeded random partition into groups of near-equal size (:func:`random_groups`).
Sources whose errors are correlated (several keyword rules firing on the same wrong rows) then usually land in
different groups, so the candidate fitted without one of them still reads the others, and agreement rewards the
candidates that trust the votes (the measured bias, ``docs/results/label_quality.md``).

``"dependency"``: sources that vote the same class on the same rows more often than chance are left out together
(:func:`dependency_groups`). Gold-free, from the fit rows' votes only: the similarity of two sources is
:func:`vote_dependency`, the phi coefficient (Pearson correlation of 0/1 indicators) of "j votes c on row i" and
"k votes c on row i", per class c, averaged over the classes weighted by both sources' votes for c, counted only where
it is significantly positive (:data:`Z_DEPENDENT`): sources that conflict or fire apart are not dependent in the
sense that matters here (only a source repeating the left-out source's vote on its rows can pass that vote into the
candidate), and phi is corrected for chance (a broad rule that fires on most rows is not similar to everything).
Phi is marginal, not conditional on the unknown label, so sources of one class are similar because they all fire on
that class: clustered freely, the groups became one class each. So the clusters are made within each source class
(average linkage, capped at :func:`group_cap` of that class's sources; independent sources stay alone) and dealt to
the groups so that each group holds about its share of every class, as a random partition does. What it cannot
see: errors correlated without co-firing. Measured (rules only, 5 WRENCH datasets, seeds 0-4;
``docs/results/label_quality.md``, "Correlation-aware source groups"): it lowers every candidate's agreement but
ranks them no better (mean Spearman with valid accuracy -0.14 -> -0.24; census chose ``onecoin:1`` on 2 of 5 seeds,
F1 0.61 -> 0.05), so it is opt-in and ``"random"`` the default.

``"conditional"``: the same per-class clusters, cap and dealing as ``"dependency"``, with the similarity
:func:`error_dependency` in place of the marginal phi: how much more often two sources vote the same class where it
is likely wrong than they would if they were independent given the latent label, estimated without gold by a
Dawid-Skene posterior that leaves the pair's own votes out (:func:`conditional_groups`). Sources accurate on the same
class are no longer similar; only sources that err together are (the groups keep 99 % of that dependency inside them
on WRENCH trec). Measured under the same rule (``docs/results/label_quality.md``, "Label-conditional source groups"):
rejected after seeds 0-2, trec 0.622 -> 0.533 (``ds:1`` chosen on two seeds), chemprot 0.545 -> 0.535, mean
Spearman -0.14 -> -0.26; census no longer collapses. Leaving the erring rules out together lowers every candidate's
agreement, ``mv``'s most, so the criterion turns to the candidates that lean on the prior: the groups are not where
its bias comes from. Opt-in.

Every grouping is a registered function ``(L (n, m) int votes, n_groups, seed) -> list of sorted column-index
arrays`` (:data:`GROUPINGS`), a partition of ``range(m)`` into at most ``min(n_groups, m)`` non-empty groups.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from .combine import VoteLikelihood

Z_DEPENDENT = 1.96
""":func:`vote_dependency` counts a pair's phi only where ``sqrt(n) * phi`` reaches this (one-sided 2.5 %)."""


def random_groups(m: int, n_groups: int = 5, seed: int = 0) -> list[np.ndarray]:
    """A seeded partition of the m sources into ``min(n_groups, m)`` groups of near-equal size (column indices)."""
    order = np.random.default_rng(seed + 104729).permutation(m)
    return [np.sort(g) for g in np.array_split(order, max(1, min(n_groups, m)))]


def _phi(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Phi coefficients between the 0/1 columns of A (n, a) and B (n, b), shape (a, b); 0 where a column is constant."""
    n = A.shape[0]
    pa, pb = A.mean(axis=0), B.mean(axis=0)
    cov = A.T @ B / n - np.outer(pa, pb)
    sd = np.sqrt(np.outer(pa * (1 - pa), pb * (1 - pb)))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sd > 0, cov / np.where(sd > 0, sd, 1.0), 0.0)


def vote_dependency(L: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """How much more often than chance each pair of sources votes the same class on the same row, shape (m, m).

    S[j, k] = max(0, sum_c w_c phi_c(j, k)), phi_c the phi coefficient over the n rows of the indicators
    L[:, j] == c and L[:, k] == c, counted only where it is significantly positive (sqrt(n) phi_c >= 1.96, the
    one-sided 2.5 % test of independence, n phi^2 ~ chi2(1)), else 0 (also when either is constant, e.g. a source
    that never votes c); w_c = (votes of j and k for c) / (votes of j and k); 0 for a source that never votes; the
    diagonal is 1. Without the test, the noise of phi (about 1 / sqrt(n)) would pull unrelated sources together.

    Args:
        L: shape (n, m), votes in 0..k-1, -1 = abstain.
        n_classes: k (default: the largest vote + 1).
    """
    L = np.asarray(L)
    n, m = L.shape
    k = int(n_classes) if n_classes is not None else int(L.max(initial=-1)) + 1
    num = np.zeros((m, m))
    den = np.zeros((m, m))
    for c in range(k):
        V = (L == c).astype(np.float64)
        count = V.sum(axis=0)
        w = count[:, None] + count[None, :]
        phi = _phi(V, V)
        num += w * np.where(np.sqrt(n) * phi >= Z_DEPENDENT, phi, 0.0)
        den += w
    with np.errstate(invalid="ignore", divide="ignore"):
        S = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    S = np.clip(S, 0.0, None)
    np.fill_diagonal(S, 1.0)
    return S


def group_cap(m: int, n_groups: int) -> int:
    """The largest cluster :func:`dependency_groups` makes of m sources (of one class) dealt to ``g = min(n_groups, m)``
    groups: twice the even share ``ceil(m / g)``, at most ``m // 2`` (no cluster holds most of them), at least the
    even share."""
    g = max(1, min(n_groups, m))
    share = -(-m // g)
    return max(share, min(2 * share, m // 2))


def _capped_clusters(S: np.ndarray, n_clusters: int, cap: int, rank: np.ndarray,
                     min_similarity: float | None = None) -> list[list[int]]:
    """Average-linkage agglomerative clusters of the similarity matrix ``S`` (a, a), merged greedily.

    While more than ``n_clusters`` remain, the two clusters with the highest mean pairwise similarity are merged,
    never into one larger than ``cap``; equal similarities: smallest merged cluster first, then by ``rank`` (a,)
    (each cluster's smallest rank). With ``min_similarity``, merging stops when no pair under the cap is more
    similar than that; otherwise, when no merge fits under the cap, the two smallest clusters are merged.
    """
    members: list[list[int]] = [[j] for j in range(S.shape[0])]
    C = S.astype(np.float64).copy()               # mean similarity between clusters (average linkage)
    size = np.ones(S.shape[0])
    first = np.asarray(rank, dtype=np.float64).copy()      # each cluster's earliest place in the tie order
    while len(members) > max(1, n_clusters):
        a, b = np.triu_indices(len(members), 1)
        merged = size[a] + size[b]
        over = merged > cap
        sim = np.round(C[a, b], 12)
        lo, hi = np.minimum(first[a], first[b]), np.maximum(first[a], first[b])
        # under the cap: most similar, then smallest, then the seeded order; over it (no merge fits): smallest
        order = np.lexsort((hi, lo, np.where(over, -sim, merged), np.where(over, merged, -sim), over))
        pick = order[0]
        if min_similarity is not None and (over[pick] or sim[pick] <= min_similarity):
            break
        i, j = int(a[pick]), int(b[pick])
        C[i] = C[:, i] = (size[i] * C[i] + size[j] * C[j]) / (size[i] + size[j])
        C[i, i] = 1.0
        members[i] += members[j]
        size[i] += size[j]
        first[i] = min(first[i], first[j])
        keep = np.arange(len(members)) != j
        C, size, first = C[np.ix_(keep, keep)], size[keep], first[keep]
        del members[j]
    return members


def pair_out_posteriors(model: VoteLikelihood, C: np.ndarray, j: int) -> np.ndarray:
    """The Dawid-Skene posterior of every row's label without source j and source k, for every k, shape (n, m, k).

    ``C`` (n, m, k) are the fitted ``model``'s log-likelihood contributions (:meth:`VoteLikelihood.contributions`);
    column j is the posterior without j alone.
    """
    full = np.log(model.class_prior_)[None, :] + C.sum(axis=1) - C[:, j]          # (n, k): without j
    logit = full[:, None, :] - C
    logit[:, j] = full
    e = np.exp(logit - logit.max(axis=2, keepdims=True))
    return e / e.sum(axis=2, keepdims=True)


def error_dependency(L: np.ndarray, n_classes: int | None = None) -> np.ndarray:
    """How much more often than the latent label explains each pair of sources votes the same WRONG class, (m, m).

    A gold-free test of the pair's errors given the latent label. A Dawid-Skene model (:class:`VoteLikelihood`, class
    prior, no h) is fitted to all the votes: theta_j(c | t), the chance source j votes c on a row of class t. For the
    pair (j, k), q_i is the posterior of row i's label computed WITHOUT j's and k's votes (:func:`pair_out_posteriors`),
    and for each class c, w_i = 1 - q_i(c) is the chance that a vote c on row i is wrong. Summed over rows and classes:

    * observed O = sum w_i [L_ij = c][L_ik = c], both voting c where c is likely wrong;
    * expected E = sum w_i sum_t q_i(t) theta_j(c | t) theta_k(c | t), the same if j and k were independent given
      the label (the model's chance of both voting c on row i given the other votes): two rules accurate on the same
      class co-fire on that class's rows, and the mixture of labels over t already predicts it, so no excess;
    * W_j = sum w_i [L_ij = c], W_k likewise, each one's likely-wrong votes.

    S[j, k] = (O - E) / sqrt(W_j W_k) (about 1 when j and k are wrong on exactly the same rows) where the excess is
    significant, (O - E) / sqrt(E) >= :data:`Z_DEPENDENT` (O about Poisson under independence), else 0; 0 for a pair
    never likely wrong; the diagonal is 1. Symmetric: (j, k) and (k, j) leave the same two out.

    Why this label estimate. The marginal :func:`vote_dependency` compares co-votes to chance, so sources of one class
    are similar because they fire on that class (the ``"dependency"`` groups came out one class each). Conditioning
    on a hard label estimate is not enough either: where the estimate is wrong (the majority vote of the few other
    sources on a row often is), the rows it calls t include rows of c, on which every accurate c-rule fires, so
    accurate rules of one class still looked dependent (tried first, on the synthetic matrix of the tests: 0.10 for an
    accurate rule with the erring pair, 0.69 for the pair). Comparing to the co-votes the model expects given the
    other votes (a mixture over the labels, not one label) takes the estimate's uncertainty into account (0.00 and
    0.50 there). The posterior leaves
    the pair's own votes out: with them, where j and k are wrong together on rows few other sources vote on, it would
    follow them (a model assuming independence counts two copies of one error as two pieces of evidence), and their
    joint errors would look like joint accuracy, the very thing to detect. What it cannot see: a third source that
    errs with them still votes in the posterior (a block of three is found pair by pair only where the other sources
    outvote it), and theta is fitted with the correlated sources in (Dawid-Skene overrates their accuracy).

    Args:
        L: shape (n, m), votes in 0..k-1, -1 = abstain.
        n_classes: k (default: the largest vote + 1).
    """
    L = np.asarray(L)
    n, m = L.shape
    k = max(1, int(n_classes) if n_classes is not None else int(L.max(initial=-1)) + 1)
    S = np.zeros((m, m))
    if n == 0 or m == 0 or not (L >= 0).any():
        np.fill_diagonal(S, 1.0)
        return S
    model = VoteLikelihood(k).fit(L, None, 0.0)
    C = model.contributions(L)
    theta = np.exp(model.log_theta_[:, :, 1:])                   # (m, k true, k voted): P(L_j = c | t)
    for j in range(m):
        q = pair_out_posteriors(model, C, j)                     # (n, m, k)
        O = np.zeros(m)
        E = np.zeros(m)
        Wj = np.zeros(m)
        Wk = np.zeros(m)
        for c in range(k):
            wrong = 1.0 - q[:, :, c]                             # (n, m): chance row i is not c, pair (j, k)
            a = (L[:, j] == c).astype(np.float64)[:, None]
            b = (L == c)
            both = np.einsum("nmt,t,mt->nm", q, theta[j, :, c], theta[:, :, c])    # model's P(both vote c | others)
            O += (wrong * a * b).sum(axis=0)
            E += (wrong * both).sum(axis=0)
            Wj += (wrong * a).sum(axis=0)
            Wk += (wrong * b).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (O - E) / np.sqrt(E)
            sim = np.where(Wj * Wk > 0, (O - E) / np.sqrt(Wj * Wk), 0.0)
        S[j] = np.where(np.nan_to_num(z) >= Z_DEPENDENT, np.nan_to_num(sim), 0.0)
    S = np.clip((S + S.T) / 2, 0.0, 1.0)
    np.fill_diagonal(S, 1.0)
    return S


def dependency_groups(L: np.ndarray, n_groups: int = 5, seed: int = 0,
                      n_classes: int | None = None) -> list[np.ndarray]:
    """Sources that vote together left out together, every group holding its share of each class's sources.

    Each source's class is the one it votes most (:func:`polarlab.harmonizer.select.source_classes`; sources that
    never vote form one more class). Within each class c (m_c sources), the sources that are significantly
    dependent (:func:`vote_dependency` > 0) are merged into average-linkage clusters of at most
    ``group_cap(m_c, g)`` sources (:func:`_capped_clusters`; independent sources stay alone), g = ``min(n_groups,
    m)``. Each class's clusters, largest first, are then dealt to the group holding the fewest sources of that class
    (then the fewest sources, then a seeded order), so no group takes most of one class's sources away: grouping
    all of a class's sources together (clustering without the classes) left the candidates nothing to predict that
    class from, and the selection fell apart (WRENCH census, ``docs/results/label_quality.md``).

    Args:
        L: shape (n, m), the fit rows' votes (-1 = abstain).
        n_groups: how many groups (``min(n_groups, m)`` are made).
        seed: orders the ties.
        n_classes: k (default: the largest vote + 1).

    Returns:
        at most ``min(n_groups, m)`` non-empty arrays of column indices (fewer only when dependent sources leave too
        few clusters to fill them), each sorted, together a partition of ``range(m)``, ordered by their smallest index.
    """
    return _clustered_groups(L, vote_dependency, n_groups, seed, n_classes)


def conditional_groups(L: np.ndarray, n_groups: int = 5, seed: int = 0,
                       n_classes: int | None = None) -> list[np.ndarray]:
    """:func:`dependency_groups` with the similarity :func:`error_dependency` (sources that are wrong together beyond
    what the estimated label explains) in place of the marginal :func:`vote_dependency`: the same per-class clusters,
    cap and dealing, so every group holds about its share of each class's sources."""
    return _clustered_groups(L, error_dependency, n_groups, seed, n_classes)


def _clustered_groups(L: np.ndarray, similarity: Callable[[np.ndarray, int], np.ndarray], n_groups: int, seed: int,
                      n_classes: int | None) -> list[np.ndarray]:
    """The per-class clusters of ``similarity(L, k)`` (m, m) dealt to the groups (:func:`dependency_groups`)."""
    L = np.asarray(L)
    m = L.shape[1]
    g = max(1, min(n_groups, m))
    if m == 0:
        return [np.zeros(0, dtype=np.int64)]
    k = int(n_classes) if n_classes is not None else int(L.max(initial=-1)) + 1
    S = similarity(L, k)
    classes = np.array([np.bincount(L[L[:, j] >= 0, j], minlength=k).argmax() if (L[:, j] >= 0).any() else -1
                        for j in range(m)])
    rng = np.random.default_rng(seed + 104729)
    rank = rng.permutation(m)                     # rank[j]: j's place in the tie order
    group_rank = rng.permutation(g)
    groups: list[list[int]] = [[] for _ in range(g)]
    for c in sorted(set(classes.tolist()), key=lambda c: (c < 0, c)):
        cols = np.flatnonzero(classes == c)
        clusters = _capped_clusters(S[np.ix_(cols, cols)], 1, group_cap(len(cols), g), rank[cols], min_similarity=0.0)
        clusters.sort(key=lambda cl: (-len(cl), min(rank[cols[cl]])))
        held = np.zeros(g, dtype=np.int64)        # sources of class c in each group
        for cl in clusters:
            t = min(range(g), key=lambda i: (held[i], len(groups[i]), group_rank[i]))
            groups[t] += cols[cl].tolist()
            held[t] += len(cl)
    out = [np.sort(np.asarray(x, dtype=np.int64)) for x in groups if x]
    return sorted(out, key=lambda x: int(x[0]))


GROUPINGS: dict[str, Callable[..., list[np.ndarray]]] = {
    "random": lambda L, n_groups, seed, n_classes=None: random_groups(np.asarray(L).shape[1], n_groups, seed),
    "dependency": dependency_groups,
    "conditional": conditional_groups,
}
"""``combine_groups_by`` values: ``(L (n, m), n_groups, seed, n_classes) -> groups`` (see the module docstring)."""


def make_groups(by: str, L: np.ndarray, n_groups: int, seed: int, n_classes: int | None = None) -> list[np.ndarray]:
    """The source groups of ``L``'s columns by the grouping ``by`` (a key of :data:`GROUPINGS`)."""
    return GROUPINGS[by](L, n_groups, seed, n_classes)
