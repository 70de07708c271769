"""POLAR over linkers: linking cast as choosing one of K candidate slots.

Per mention the candidates are the union of the linkers' top-k (each linker's top-1 always kept),
ordered by reciprocal-rank fusion and cut to K slots. Each linker votes the slot of its top-1
(-1 = it abstained), which gives the label matrix L (n, m) over K "classes". The features of a
mention are, per slot, every linker's score of that candidate, its reciprocal rank in every
linker's list, a padding flag and whether the candidate is named elsewhere in the document:
X has shape (n, K * (2m + 2)). The POLAR harmonizer
(:class:`polarlab.harmonizer.PolarHarmonizer`, no gold) fits h(x) over the K slots to all linkers at
once; a link's probability is h(x)[slot] and its risk ``1 - h(x)[chosen slot]``
(:func:`polarlab.risk.risk_score`). Given a self-supervised pseudo-dev set
(:mod:`polarlab.linking.pseudodev`), the ranking may be a candidate-level combination and the
probability a calibrated one, both fitted there without gold (:mod:`polarlab.linking.stack`).
"""
from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..harmonizer import PolarHarmonizer
from ..harmonizer.diagnostics import NoVoteWarning
from ..risk import risk_score
from .linkers.base import Ranking, rrf_scores
from .mentions import MentionSet


@dataclass
class CandidateSlots:
    """Candidates of n mentions in K slots.

    Attributes:
        entities: shape (n, K), entity positions; -1 = empty slot.
        L: shape (n, m), int, each linker's top-1 slot (-1 = abstained).
        X: shape (n, K * f), float32 features, f = 2m + 1 (+1 with ``in_document``).
        linkers: the m linker names, in column order.
    """

    entities: np.ndarray
    L: np.ndarray
    X: np.ndarray
    linkers: list[str]


def build_slots(rankings: Sequence[Ranking], scores: Sequence[np.ndarray] | None, names: Sequence[str],
                n_slots: int = 8, rrf_k: float = 60.0, mentions: MentionSet | None = None,
                linkers: Sequence | None = None, in_document: Sequence[set[int]] | None = None) -> CandidateSlots:
    """Candidate slots, votes and features from m linkers' rankings.

    Args:
        rankings: m rankings, each entities shape (n, k_j).
        scores: m arrays shape (n, K) of each linker's score of the chosen candidates; ``None``:
            computed here with ``linkers[j].score(mentions, entities)``.
        names: the m linker names.
        n_slots: K.
        rrf_k: the constant of reciprocal-rank fusion ``sum_j 1 / (rrf_k + rank_j)``.
        in_document: per mention the entities named elsewhere in its document (adds one feature
            per slot: the candidate is among them).
    """
    n, m = rankings[0].entities.shape[0], len(rankings)
    ent = np.full((n, n_slots), -1, dtype=np.int64)
    recip = np.zeros((n, n_slots, m), dtype=np.float32)
    for i in range(n):
        fused = rrf_scores(rankings, i, rrf_k)
        tops = [int(r.entities[i, 0]) for r in rankings if r.entities[i, 0] >= 0]
        keep = list(dict.fromkeys(tops))
        for e in sorted(fused, key=lambda e: (-fused[e], e)):
            if len(keep) >= n_slots:
                break
            if e not in keep:
                keep.append(e)
        keep.sort(key=lambda e: (-fused[e], e))
        ent[i, :len(keep)] = keep[:n_slots]
        for j, r in enumerate(rankings):
            for rank, e in enumerate(r.entities[i]):
                if e >= 0:
                    hit = np.nonzero(ent[i] == e)[0]
                    if hit.size:
                        recip[i, hit[0], j] = 1.0 / (rank + 1)
    L = np.full((n, m), -1, dtype=np.int64)
    for j, r in enumerate(rankings):
        for i in range(n):
            e = r.entities[i, 0]
            if e >= 0:
                L[i, j] = int(np.nonzero(ent[i] == e)[0][0])
    if scores is None:
        scores = [lk.score(mentions, ent) for lk in linkers]
    sc = np.stack([np.nan_to_num(np.asarray(s, dtype=np.float32), nan=0.0) for s in scores], axis=2)
    pad = (ent < 0).astype(np.float32)[:, :, None]
    parts = [sc, recip, pad]
    if in_document is not None:
        parts.append(np.array([[[float(e >= 0 and int(e) in in_document[i])] for e in ent[i]]
                               for i in range(n)], dtype=np.float32).reshape(n, n_slots, 1))
    X = np.concatenate(parts, axis=2).reshape(n, -1).astype(np.float32)
    return CandidateSlots(ent, L, X, list(names))


@dataclass
class HarmonizedLinks:
    """h(x) over the slots and what follows from it.

    Attributes:
        proba: shape (n, K), the distribution that ranks the slots: h(x), or the pseudo-dev
            combination's (:mod:`polarlab.linking.stack`); 0 for empty slots.
        ranking: the slots' entities, shape (n, K): the slots ``proba`` prefers by ``proba``, then the others
            in the linkers' reciprocal-rank fusion (:func:`slot_order`); its scores are ``proba``.
        probability: shape (n,), the chosen link's probability: ``proba`` of its slot, or its
            calibrated value when a pseudo-dev set was given (:class:`polarlab.linking.stack.LinkModel`).
        risk: shape (n,), ``1 - probability`` (POLAR risk of the link).
        proba_h: shape (n, K), POLAR's distribution before the pseudo-dev combination and calibration: h(x), or
            h(x) combined with the linkers' top-1 votes when the harmonizer's ``combine`` says so
            (``[linking.harmonizer] combine``).
        link_model: what the pseudo-dev set fitted (None without one), see
            :class:`polarlab.linking.stack.LinkModel`.
        h: the fitted POLAR harmonizer (links other mentions' slots, :func:`apply_links`).
        polar_seconds: time of POLAR's fit and h(x) on the slots (and on the pseudo-dev slots).
    """

    proba: np.ndarray
    ranking: Ranking
    probability: np.ndarray
    risk: np.ndarray
    proba_h: np.ndarray | None = None
    link_model: object | None = None
    h: PolarHarmonizer | None = None
    polar_seconds: float = 0.0


def harmonize(slots: CandidateSlots, harmonizer: PolarHarmonizer | None = None, seed: int = 0,
              dev: tuple[CandidateSlots, np.ndarray] | None = None, folds: int = 5) -> HarmonizedLinks:
    """Fit POLAR (no gold) on the slots' votes and features and link each mention to h(x)'s choice (the list of
    its candidates: :func:`slot_order`).

    Args:
        dev: the pseudo-dev set's slots (built by the same linkers, in the same order) and target
            entity positions (:mod:`polarlab.linking.pseudodev`, no gold). When given, a candidate-level
            combination and the link probability's calibration are fitted on it
            (:func:`polarlab.linking.stack.fit_link_model`); h(x) applies to its slots unchanged.
        folds: cross-validation folds on the pseudo-dev set.
    """
    K = slots.entities.shape[1]
    h = harmonizer or PolarHarmonizer(n_classes=K, model="lr", seed=seed, combine="h")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        # the classes are candidate slots: the ones no linker ranks first ("class(es) [1, ..., 7] get no vote ...;
        # add a rule or source") are the usual case and nothing a user can act on; kept in h.warnings_
        warnings.simplefilter("ignore", NoVoteWarning)
        h.fit(slots.L, slots.X)
    proba_h = h.predict_proba(slots.L, slots.X)   # h(x) alone unless h.combine reads the linkers' votes
    polar_seconds = time.perf_counter() - t0
    model = None
    if dev is None or not len(dev[1]):
        proba = proba_h
    else:
        from .stack import fit_link_model

        dev_slots, targets = dev
        t0 = time.perf_counter()
        dev_h = h.predict_proba(dev_slots.L, dev_slots.X)
        polar_seconds += time.perf_counter() - t0
        model = fit_link_model(dev_slots, dev_h, targets, folds=folds, seed=seed)
        model.dev_proba_h = dev_h
        proba = model.rank_proba(slots, proba_h)
    out = _links(slots, proba, proba_h, model)
    out.h, out.polar_seconds = h, polar_seconds
    return out


def apply_links(harm: HarmonizedLinks, slots: CandidateSlots) -> HarmonizedLinks:
    """Other mentions' harmonized links and risks by what ``harm`` fitted (POLAR's h(x), and the
    pseudo-dev combination and calibration when there were any), without refitting: ``slots`` built by
    the same linkers in the same order. Used to link unlabelled text's mentions (no gold)."""
    if harm.h is None:
        raise ValueError("these links carry no fitted harmonizer")
    proba_h = harm.h.predict_proba(slots.L, slots.X)
    model = harm.link_model
    proba = proba_h if model is None else model.rank_proba(slots, proba_h)
    return _links(slots, proba, proba_h, model)


def slot_order(entities: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """The order in which the harmonized list presents each mention's slots, shape (n, K) of slot indices.

    The slots the distribution prefers, those with at least a uniform share (``proba >= 1 / filled slots``), come
    first, by ``proba`` (ties by slot index); the other filled slots follow in slot order, which
    :func:`build_slots` makes the linkers' reciprocal-rank fusion; empty slots (and slots of probability 0, which
    the list leaves out) last. The first slot is always ``proba``'s argmax (the lowest index among ties), so the
    link is the distribution's choice; only the rest of the list (what acc@5 and the review's candidates read)
    differs from sorting by ``proba``. Why: h(x) is fitted
    to the linkers' top-1 votes, so below its choice it spreads about 1 % of the mass over the other slots, and
    the order of those crumbs is no evidence; the fusion of the linkers' own ranked lists is.
    """
    filled = (entities >= 0) & (proba > 0)
    share = 1.0 / np.maximum(filled.sum(axis=1, keepdims=True), 1)
    preferred = filled & (proba >= share)
    group = np.where(preferred, 0, np.where(filled, 1, 2))
    within = np.where(preferred, -proba, np.arange(entities.shape[1], dtype=float)[None, :])
    return np.lexsort((within, group), axis=-1)


def _links(slots: CandidateSlots, proba: np.ndarray, proba_h: np.ndarray, model) -> HarmonizedLinks:
    """The chosen links, their probabilities and risks from a distribution over the slots; the list of each
    mention's candidates in :func:`slot_order`."""
    proba = np.where(slots.entities >= 0, proba, 0.0)
    proba = proba / np.maximum(proba.sum(axis=1, keepdims=True), 1e-12)
    order = slot_order(slots.entities, proba)
    ent = np.take_along_axis(slots.entities, order, axis=1)
    p_sorted = np.take_along_axis(proba, order, axis=1)
    ent = np.where(p_sorted > 0, ent, -1)
    chosen = order[:, 0]
    risk = risk_score(proba, np.where(slots.entities[np.arange(len(chosen)), chosen] >= 0, chosen, -1))
    probability = p_sorted[:, 0]
    if model is not None and model.dev.get("calibrated"):
        probability = model.link_probability(slots, proba_h, proba)
        risk = 1.0 - probability
    return HarmonizedLinks(proba, Ranking(ent, np.where(ent >= 0, p_sorted, np.nan)), probability, risk,
                           proba_h, model)


def dev_links(harm: HarmonizedLinks, dev_slots: CandidateSlots) -> HarmonizedLinks:
    """The pseudo-dev mentions' own harmonized links and risks, by the model ``harm`` fitted (POLAR's
    h(x), the combination and calibration fitted on those mentions: in-sample, no gold)."""
    model = harm.link_model
    if model is None:
        raise ValueError("no pseudo-dev set was given to harmonize")
    dev_h = model.dev_proba_h
    return _links(dev_slots, model.rank_proba(dev_slots, dev_h), dev_h, model)


def probability_of(harm: HarmonizedLinks, slots: CandidateSlots, entities: np.ndarray) -> np.ndarray:
    """shape (n,): the probability ``harm`` (fitted on ``slots``) gives that ``entities[i]`` is mention i's right
    link, whether or not it chose it: the calibrated risk model read at that entity's slot
    (:meth:`polarlab.linking.stack.LinkModel.slot_probability`), or ``harm.proba`` there without calibration.
    At ``harm``'s own link it is ``harm.probability``. NaN where the entity is in no slot (or is -1)."""
    entities = np.asarray(entities)
    hit = (slots.entities == entities[:, None]) & (entities[:, None] >= 0)
    slot = hit.argmax(axis=1)
    model = harm.link_model
    if model is not None and model.dev.get("calibrated"):
        p = model.slot_probability(slots, harm.proba_h, harm.proba, slot)
    else:
        p = harm.proba[np.arange(len(slot)), slot]
    return np.where(hit.any(axis=1), p, np.nan)
