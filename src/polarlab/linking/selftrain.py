"""Self-training of the KRISS linker on the mentions it links (transductive, no gold).

After a first pass, the mentions whose harmonized link has a low risk become KRISS prototypes of
their linked term (in context, as queries are read) — what KRISS's prototypes do with the
self-supervised mentions, applied to the corpus's own mentions: their variant surfaces
(plurals, abbreviations read as long forms, "X deficiency") are what name-only prototypes miss.
A mention is never its own prototype (:class:`polarlab.linking.linkers.kriss.KrissLinker`).

Optionally (``[linking] self_train_epochs`` > 0) the encoder is fine-tuned on those links too
(anchor: the mention, positive: a name of its linked term), **cross-fitted by document**: the
mentions of one half of the documents are linked by an encoder trained on the other half's links,
so no mention is linked by an encoder that saw its own link.
"""
from __future__ import annotations

import copy
import dataclasses
import zlib
from typing import Callable, Sequence

import numpy as np

from ..ontology.terms import Ontology
from .contrastive import ContrastiveTrainer, Triple
from .encoder import MemoEncoder
from .harmonize import CandidateSlots, HarmonizedLinks, probability_of
from .linkers import Ranking, RowTable
from .linkers.kriss import KrissLinker
from .mentions import MentionSet
from .selfsup import SelfSupMention


def self_training_links(harm: HarmonizedLinks, max_risk: float) -> np.ndarray:
    """shape (n,), bool: the links that become KRISS prototypes of their entity in the second pass —
    those with a link whose risk is below ``max_risk`` (no gold: the harmonized link's own risk)."""
    return low_risk(harm.ranking.top1, harm.risk, max_risk)


def low_risk(top1: np.ndarray, risk: np.ndarray, max_risk: float) -> np.ndarray:
    """shape (n,), bool: the mentions with a link (``top1`` >= 0) whose ``risk`` is below ``max_risk``."""
    return (np.asarray(top1) >= 0) & (np.asarray(risk) < max_risk)


def kriss_at_risks(tuned: MemoEncoder, window: int, marked_names: bool, names: RowTable, positions: dict[str, int],
                   prototypes: Sequence[SelfSupMention], doc_texts: dict[str, str], mentions: MentionSet,
                   top1: np.ndarray, risk: np.ndarray, thresholds: Sequence[float]) -> dict[float, KrissLinker]:
    """KRISS self-trained at each risk threshold t of ``thresholds``: on the ``tuned`` encoder, with
    ``prototypes`` and, as prototypes of their linked entity (never of themselves), the ``mentions``
    whose link ``top1`` (shape (n,)) has a ``risk`` below t (:func:`low_risk`). The pseudo-dev set's
    choice of the threshold and the test's sweep of the other thresholds both refit KRISS so."""
    out: dict[float, KrissLinker] = {}
    for t in thresholds:
        keep = low_risk(top1, risk, t)
        out[t] = KrissLinker(tuned, window, marked_names=marked_names).fit(
            names, positions, prototypes, doc_texts, linked=(mentions.subset(keep), np.asarray(top1)[keep]))
    return out


def pass2_risk(final: HarmonizedLinks, first: HarmonizedLinks, first_slots: CandidateSlots) -> HarmonizedLinks:
    """The second pass's own risk (``final`` unchanged): its pseudo-dev stack reads the retrained KRISS, which on
    the test confirms the first pass's low-risk links it took as prototypes (KRISS reads a mention without context,
    so every other mention of the same surface is similar 1) more than the pseudo-dev set, whose KRISS is not
    self-trained, shows: too sure (docs/results/linking.md, "A second-pass risk that does not read KRISS confirming
    its own prototypes")."""
    return final


def first_pass_risk(final: HarmonizedLinks, first: HarmonizedLinks, first_slots: CandidateSlots) -> HarmonizedLinks:
    """The second pass links, the first pass judges: ``final``'s links (and lists) with the probability that the
    first pass's calibrated fit gives each of them (:func:`polarlab.linking.harmonize.probability_of` on
    ``first_slots``), read before KRISS took any test mention as a prototype. Where the link is the first pass's
    this is its first-pass probability; where the second pass moved to another candidate, the first pass's
    probability of that candidate. Where the link is in none of the first pass's slots, the first pass's
    probability of "some link other than mine", ``1 - first.probability``: an upper bound that still reads no
    retrained KRISS. A mention without a link keeps ``final``'s risk."""
    top1 = final.ranking.top1
    p = probability_of(first, first_slots, top1)
    p = np.where(np.isnan(p), 1.0 - first.probability, p)
    p = np.where(top1 >= 0, p, final.probability)
    return dataclasses.replace(final, probability=p, risk=1.0 - p)


SECOND_PASS_RISKS: dict[str, Callable[[HarmonizedLinks, HarmonizedLinks, CandidateSlots], HarmonizedLinks]] = {
    "pass2": pass2_risk, "first_pass": first_pass_risk}
"""``[linking.calibration] second_pass_risk``: how the self-trained pass's links get their risk, from (final links,
first-pass links, first-pass slots); the links themselves never change."""


def document_folds(doc_ids: Sequence[str], folds: int = 2) -> np.ndarray:
    """shape (n,), int: a fold per mention, the same for every mention of a document (stable hash)."""
    return np.asarray([zlib.crc32(str(d).encode()) % folds for d in doc_ids], dtype=np.int64)


class FoldedLinker:
    """Links each mention with the linker of its document's fold (cross-fitting)."""

    def __init__(self, linkers: Sequence[KrissLinker], folds: int = 2, name: str = "kriss") -> None:
        self.linkers = list(linkers)
        self.folds = folds
        self.name = name
        self.n_prototypes_ = max(lk.n_prototypes_ for lk in self.linkers)

    def _split(self, mentions: MentionSet):
        f = document_folds(mentions.doc_ids, self.folds)
        return [(np.flatnonzero(f == j), lk) for j, lk in enumerate(self.linkers)]

    def rank(self, mentions: MentionSet, k: int) -> Ranking:
        ent = np.full((len(mentions), k), -1, dtype=np.int64)
        sc = np.full((len(mentions), k), np.nan)
        for idx, lk in self._split(mentions):
            if idx.size:
                r = lk.rank(mentions.subset(idx), k)
                ent[idx], sc[idx] = r.entities, r.scores
        return Ranking(ent, sc)

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray:
        out = np.full(candidates.shape, np.nan)
        for idx, lk in self._split(mentions):
            if idx.size:
                out[idx] = lk.score(mentions.subset(idx), candidates[idx])
        return out


def link_triples(mentions: MentionSet, links: np.ndarray, ontology: Ontology, window: int,
                 seed: int = 0) -> list[Triple]:
    """One training example per distinct (surface, linked term): the marked mention (in context when
    ``window`` > 0) -> a name of the term."""
    rng = np.random.default_rng(seed)
    ids = ontology.ids
    seen: set[tuple[str, int]] = set()
    out: list[Triple] = []
    contexts = mentions.contexts_at(window)
    for text, surface, e in zip(contexts, mentions.surfaces, links):
        key = (surface.lower(), int(e))
        if key in seen:
            continue
        seen.add(key)
        names = [n for n in ontology.names(ids[int(e)]) if n.lower() != surface.lower()] or ontology.names(ids[int(e)])
        out.append(Triple(text, names[int(rng.integers(len(names)))], None, ids[int(e)]))
    return out


def self_trained_kriss(tuned: MemoEncoder, trainer: ContrastiveTrainer, window: int, epochs: int,
                       names: RowTable, positions: dict[str, int], prototypes: Sequence[SelfSupMention],
                       doc_texts: dict[str, str], mentions: MentionSet, linked: np.ndarray, links: np.ndarray,
                       ontology: Ontology, folds: int = 2, marked_names: bool = False,
                       text_links: tuple[MentionSet, np.ndarray] | None = None):
    """The second-pass KRISS linker: ``tuned``'s prototypes plus the ``linked`` mentions (their first-pass
    ``links``); with ``epochs`` > 0 a copy of the encoder per fold is fine-tuned on the other folds' links.

    ``text_links``: (mentions, entity positions) linked in unlabelled text (:mod:`polarlab.linking.textmentions`),
    prototypes too, and with ``epochs`` > 0 training examples of every fold (they are not mentions to link)."""
    ms, ents = mentions.subset(linked), np.asarray(links)[linked]
    all_ms, all_ents = ms, ents
    if text_links is not None and len(text_links[0]):
        all_ms, all_ents = ms.concat(text_links[0]), np.concatenate([ents, np.asarray(text_links[1])])
    if epochs <= 0:
        return KrissLinker(tuned, window, marked_names=marked_names).fit(names, positions, prototypes, doc_texts,
                                                                         linked=(all_ms, all_ents))
    fold = document_folds(ms.doc_ids, folds)
    out = []
    for j in range(folds):
        enc = MemoEncoder(tuned.embedder.copy(), tuned.max_seq_length, None, tag=f"kriss_self_{j}",
                          pooling=tuned.pooling)
        train = fold != j
        triples = link_triples(ms.subset(train), ents[train], ontology, window, seed=j)
        if text_links is not None and len(text_links[0]):
            triples += link_triples(text_links[0], np.asarray(text_links[1]), ontology, window, seed=folds + j)
        if len(triples) >= 2:
            tr = copy.copy(trainer)
            tr.epochs = epochs
            tr.fit(enc, triples)
        out.append(KrissLinker(enc, window, marked_names=marked_names).fit(names, positions, prototypes, doc_texts,
                                                                           linked=(all_ms, all_ents)))
    return FoldedLinker(out, folds)
