"""The linking job: self-supervision, linkers, POLAR over their votes — one function, timed."""
from __future__ import annotations

import logging
from functools import partial
import resource
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from ..data.pubtator import Document
from ..errors import InputError
from ..features.embedding import Embedder
from ..harmonizer import PolarHarmonizer
from ..ontology.matcher import NameMatcher
from ..ontology.terms import Ontology
from .config import LinkingConfig
from .contrastive import ContrastiveTrainer
from .encoder import MemoEncoder
from .harmonize import CandidateSlots, HarmonizedLinks, apply_links, build_slots, dev_links, harmonize
from .linkers import ExactLinker, KrissLinker, NamesDenseLinker, Ranking, RowTable, SparseLinker, names_table
from .mentions import MentionSet
from .pseudodev import PseudoDev, choose_pseudo_dev, drop_hidden, hide_names
from .selfsup import SelfSupMention, sample_per_entity, self_supervised_mentions
from .selftrain import self_trained_kriss, self_training_links
from .textmentions import distinct_links, text_mentions

log = logging.getLogger(__name__)


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, MiB (Linux ru_maxrss is in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@dataclass
class Phase:
    seconds: float
    peak_rss_mb: float


@dataclass
class LinkRun:
    """Everything one linking run produced.

    Attributes:
        mentions: the n linked mentions.
        rankings: linker name -> :class:`Ranking` (top_k entities), incl. ablations when asked.
        slots: the harmonizer's candidate slots, votes and features.
        harmonized: h(x), the chosen links, probabilities and risks.
        universe: entity positions the dense linkers searched.
        selfsup: number of self-supervised mentions found; trainer: the fitted trainer.
        phases: phase name -> time and peak memory.
        selfsup_entities: entity positions with at least one self-supervised mention.
        prototype_entities: entity positions with at least one KRISS prototype in context.
        pseudo_dev: the pseudo-dev set's figures (``n``, ``n_hidden``, ``visible_share`` and what
            :func:`polarlab.linking.stack.fit_link_model` reports); empty without one.
        first_pass: the harmonized links before self-training (None without it); ``harmonized`` is
            then the second pass, with KRISS given the first pass's low-risk links as prototypes.
    """

    mentions: MentionSet
    rankings: dict[str, Ranking]
    slots: CandidateSlots
    harmonized: HarmonizedLinks
    universe: np.ndarray
    n_selfsup: int
    trainer: ContrastiveTrainer | None
    phases: dict[str, Phase] = field(default_factory=dict)
    n_prototypes: int = 0
    selfsup_entities: set[int] = field(default_factory=set)
    prototype_entities: set[int] = field(default_factory=set)
    pseudo_dev: dict = field(default_factory=dict)
    dev_slots: tuple | None = None
    first_pass: HarmonizedLinks | None = None
    variants: dict[str, HarmonizedLinks] = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.phases: dict[str, Phase] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = Phase(now - self._t, peak_rss_mb())
        log.info("%s: %.1f s, peak %.0f MiB", name, now - self._t, peak_rss_mb())
        self._t = now


def document_entities(ontology: Ontology, matcher: NameMatcher, docs: Sequence[Document]) -> dict[str, set[int]]:
    """document id -> entity positions whose names occur in the document's text."""
    pos = {t: e for e, t in enumerate(ontology.ids)}
    return {d.id: {pos[i] for m in matcher.find(d.text) for i in m.ids} for d in docs}


def dense_universe(ontology: Ontology, mentions: MentionSet, sparse: SparseLinker, exact: ExactLinker,
                   doc_entities: dict[str, set[int]], cfg: LinkingConfig) -> np.ndarray:
    """Entity positions the dense linkers search: all of them for a small ontology, else the union of
    every mention's sparse top-``universe_top_k``, its exact matches, and the terms named anywhere in
    its document (so an abbreviation can reach the long form written beside it)."""
    n_names = sum(1 + len(t.synonyms) for t in ontology.terms.values())
    if n_names <= cfg.max_dense_names:
        return np.arange(len(ontology), dtype=np.int64)
    keep = set(sparse.rank(mentions, cfg.universe_top_k).entities.ravel().tolist())
    keep |= set(exact.rank(mentions, cfg.top_k).entities.ravel().tolist())
    for d in set(mentions.doc_ids):
        keep |= doc_entities.get(d, set())
    keep.discard(-1)
    return np.asarray(sorted(keep), dtype=np.int64)


def contrastive_trainer(cfg: LinkingConfig) -> ContrastiveTrainer:
    """The KRISS trainer as ``[linking.train]`` says (anchors in context with ``cfg.window``)."""
    t = cfg.train
    return ContrastiveTrainer(max_examples=t.max_examples, per_entity=t.per_entity, batch_size=t.batch_size,
                              epochs=t.epochs, lr=t.lr, max_seq_length=cfg.max_seq_length, window=cfg.window,
                              synonym_swap=t.synonym_swap, hard_negatives=t.hard_negatives,
                              name_pairs=t.name_pairs, seed=cfg.seed, num_threads=cfg.num_threads)


def polar_harmonizer(cfg: LinkingConfig, seed: int = 0) -> PolarHarmonizer:
    """The POLAR harmonizer over ``cfg.n_slots`` candidate slots, as ``[linking.harmonizer]`` says."""
    h = cfg.harmonizer
    return PolarHarmonizer(n_classes=cfg.n_slots, model=h.model, scalarization=h.scalarization, weights=h.weights,
                           seed=seed, combine="h")


def run_link(mentions: MentionSet, ontology: Ontology, unlabelled: Sequence[Document], cfg: LinkingConfig,
             link_docs: Sequence[Document] = (), cache_dir=None, ablations: bool = False,
             harmonizer_seed: int | None = None) -> LinkRun:
    """Link ``mentions`` to ``ontology`` with every configured linker and harmonize them.

    Args:
        mentions: the mentions to link (their gold, if any, is not looked at).
        ontology: the target ontology.
        unlabelled: documents whose *text* self-supervises the KRISS encoder (annotations ignored).
        cfg: the ``[linking]`` settings.
        link_docs: the documents of ``mentions`` (their text is matched for dense candidates).
        cache_dir: on-disk cache of the unmodified encoder's vectors.
        ablations: also rank with KRISS without context, without contrastive training and with
            name-only prototypes, and with every self-supervised mention of a term as its prototypes
            (reported as ``kriss_no_context``, ``kriss_untrained``, ``kriss_names_only``,
            ``kriss_all_prototypes``; they do not vote in the harmonizer).
    """
    if not len(ontology):
        raise InputError("the ontology is empty", column="ontology.paths", fix="give OBO or TSV files with terms")
    threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        return _run(mentions, ontology, unlabelled, cfg, link_docs, cache_dir, ablations, harmonizer_seed)
    finally:
        torch.set_num_threads(threads)


def _dense_linkers(ontology: Ontology, mentions: MentionSet, link_docs: Sequence[Document], cfg: LinkingConfig,
                   base: MemoEncoder) -> tuple[dict, np.ndarray, dict[str, set[int]]]:
    """The name linkers over ``ontology``, the entities the dense ones search, and the terms named in
    each document: (linkers by name, universe, document entities)."""
    exact = ExactLinker().fit(ontology)
    sparse = SparseLinker().fit(ontology)
    doc_ents = document_entities(ontology, NameMatcher(ontology), list(link_docs))
    universe = dense_universe(ontology, mentions, sparse, exact, doc_ents, cfg)
    linkers: dict = {"exact": exact, "sparse": sparse}
    if "names_dense" in cfg.linkers:
        linkers["names_dense"] = NamesDenseLinker(base).fit(names_table(ontology, universe))
    return linkers, universe, doc_ents


def _slots(linkers: dict, mentions: MentionSet, doc_ents: dict[str, set[int]], cfg: LinkingConfig) -> tuple:
    rankings = {name: lk.rank(mentions, cfg.top_k) for name, lk in linkers.items()}
    slots = build_slots(list(rankings.values()), None, list(rankings), n_slots=cfg.n_slots,
                        mentions=mentions, linkers=list(linkers.values()),
                        in_document=[doc_ents.get(d, set()) for d in mentions.doc_ids])
    return rankings, slots


def _run(mentions, ontology, unlabelled, cfg, link_docs, cache_dir, ablations, harmonizer_seed) -> LinkRun:
    clock = _Clock()
    ids = ontology.ids
    pos = {t: e for e, t in enumerate(ids)}
    k = cfg.top_k
    matcher = NameMatcher(ontology)
    exact = ExactLinker().fit(ontology)
    sparse = SparseLinker().fit(ontology)
    clock.lap("index_ontology")

    doc_texts = {d.id: d.text for d in unlabelled}
    selfsup: list[SelfSupMention] = self_supervised_mentions(unlabelled, matcher)
    visible_share = float(np.mean(exact.rank(mentions, 1).top1 >= 0)) if len(mentions) else 0.0
    dev = choose_pseudo_dev(selfsup, ontology, cfg.calibration.pseudo_dev, visible_share, cfg.seed,
                            per_term=cfg.calibration.per_term)
    held = set(dev.mentions)
    pool = [m for m in selfsup if m not in held]
    clock.lap("selfsup_matching")

    doc_ents = document_entities(ontology, matcher, list(link_docs))
    universe = dense_universe(ontology, mentions, sparse, exact, doc_ents, cfg)
    names = names_table(ontology, universe)
    base = MemoEncoder(Embedder(batch_size=64), cfg.max_seq_length, cache_dir, tag="base")
    linkers: dict = {}
    if "exact" in cfg.linkers:
        linkers["exact"] = exact
    if "sparse" in cfg.linkers:
        linkers["sparse"] = sparse
    if "names_dense" in cfg.linkers or ablations:
        nd = NamesDenseLinker(base).fit(names)
        if "names_dense" in cfg.linkers:
            linkers["names_dense"] = nd
    clock.lap("names_dense_index")

    trainer = None
    n_proto = 0
    extra: dict = {}
    tuned = None
    protos: list[SelfSupMention] = []
    dev_lk: _PseudoDevLinkers | None = None
    window = cfg.window if cfg.context != "off" else 0
    dev_windows: dict = {}
    marked, dev_marked = cfg.name_form == "marked", {}
    if "kriss" in cfg.linkers:
        trainer = contrastive_trainer(cfg)
        triples = trainer.make_examples(drop_hidden(pool, dev.hidden_names), doc_texts, ontology, sparse)
        triples += trainer.make_name_pairs(ontology, [ids[e] for e in universe], sparse)
        triples = drop_hidden(triples, dev.hidden_names)
        tuned = MemoEncoder(Embedder(batch_size=64), cfg.max_seq_length, None, tag="kriss", pooling=cfg.pooling)
        trainer.fit(tuned, triples)
        clock.lap("contrastive_training")
        universe_ids = {ids[e] for e in universe}
        if len(dev):
            dev_lk = _PseudoDevLinkers.build(dev, ontology, unlabelled, doc_texts, pool, cfg, base)
            window, dev_windows = choose_window(cfg, dev_lk, tuned)
            marked, dev_marked = choose_name_form(cfg, dev_lk, tuned, window)
            clock.lap("pseudo_dev_window")
        # the held-out mentions may be prototypes here: only the pseudo-dev linkers must not see them
        protos = sample_per_entity(selfsup, cfg.prototypes_per_entity, cfg.seed, universe_ids)
        KL = partial(KrissLinker, marked_names=marked)
        kriss = KL(tuned, window).fit(names, pos, protos, doc_texts)
        n_proto = kriss.n_prototypes_
        linkers["kriss"] = kriss
        if ablations:
            extra["kriss_no_context"] = KL(tuned, 0, name="kriss_no_context").fit(names, pos, protos, doc_texts)
            extra["kriss_with_context"] = KL(tuned, cfg.window, name="kriss_with_context").fit(
                names, pos, protos, doc_texts)
            extra["kriss_names_only"] = KL(tuned, window, use_contexts=False,
                                                    name="kriss_names_only").fit(names, pos)
            untrained = MemoEncoder(base.embedder, cfg.max_seq_length, cache_dir, tag="base", pooling=cfg.pooling,
                                    memo=base._memo)
            extra["kriss_untrained"] = KL(untrained, window, name="kriss_untrained").fit(
                names, pos, protos, doc_texts)
            other = "kriss_plain_names" if marked else "kriss_marked_names"
            extra[other] = KrissLinker(tuned, window, marked_names=not marked, name=other).fit(
                names, pos, protos, doc_texts)
            every = sample_per_entity(selfsup, len(selfsup), cfg.seed, universe_ids)
            extra["kriss_all_prototypes"] = KL(tuned, window, name="kriss_all_prototypes").fit(
                names, pos, every, doc_texts)
        clock.lap("kriss_prototypes")

    rankings, slots = _slots(linkers, mentions, doc_ents, cfg)
    clock.lap("link")
    dev_input, dev_info = None, {}
    if len(dev):
        if dev_lk is None:
            dev_lk = _PseudoDevLinkers.build(dev, ontology, unlabelled, doc_texts, pool, cfg, base)
        if tuned is not None:
            dev_lk.linkers["kriss"] = dev_lk.kriss(tuned, window, marked)
        dev_input = dev_lk.slots(list(linkers), cfg)
        dev_info = {"n": len(dev), "n_hidden": int(dev.hidden.sum()), "visible_share": visible_share,
                    "kriss_window": window, "kriss_acc_by_window": dev_windows,
                    "kriss_marked_names": marked, "kriss_acc_by_name_form": dev_marked}
        clock.lap("pseudo_dev")
    hseed = cfg.seed if harmonizer_seed is None else harmonizer_seed
    harm = harmonize(slots, polar_harmonizer(cfg, hseed), dev=dev_input, folds=cfg.calibration.folds)
    if harm.link_model is not None:
        dev_info.update(harm.link_model.dev)
    clock.lap("harmonize")
    first_pass, n_linked = None, 0
    risk_t, dev_kriss_2, variants = cfg.self_train_risk, None, {}
    if "kriss" in linkers and dev_lk is not None and harm.link_model is not None and (
            risk_t == "auto" or cfg.calibration.per_term > 1):
        d = dev_links(harm, dev_input[0])
        risk_t, dev_kriss_2, dev_info["self_train_acc_by_risk"] = choose_self_train_risk(
            cfg, dev_lk, d.ranking.top1, np.asarray(d.risk), tuned, window, marked)
        clock.lap("pseudo_dev_self_train")
    if risk_t == "auto":  # no pseudo-dev set to choose on: the stated rule, links more likely right than wrong
        risk_t = 0.5
    dev_info["self_train_risk"] = float(risk_t)
    dev_input_1 = dev_input
    text_links = None
    if cfg.self_train_text != "off" and "kriss" in linkers and risk_t > 0:
        text_links, dev_info["self_train_text"] = link_text_mentions(
            linkers, harm, unlabelled, ontology, matcher, universe, cfg, risk_t, {d.id for d in link_docs})
        clock.lap("self_train_text")
    for round_ in range(cfg.self_train_rounds if "kriss" in linkers and risk_t > 0 else 0):
        linked = self_training_links(harm, risk_t)
        n_linked = int(linked.sum())
        if n_linked or text_links is not None:
            if first_pass is None:
                first_pass = harm
                rankings["kriss_first_pass"] = rankings["kriss"]
            linkers["kriss"] = self_trained_kriss(tuned, trainer, window, cfg.self_train_epochs, names, pos, protos,
                                                  doc_texts, mentions, linked, harm.ranking.top1, ontology,
                                                  marked_names=marked, text_links=text_links)
            n_proto = linkers["kriss"].n_prototypes_
            if ablations and round_ == 0:  # other thresholds, measured only (KRISS's own ranking, no re-harmonizing)
                for t in SELF_TRAIN_SWEEP:
                    keep = self_training_links(first_pass, t)
                    if t != risk_t and keep.any():
                        extra[f"kriss_self_train_{t:g}"] = KL(tuned, window).fit(
                            names, pos, protos, doc_texts, linked=(mentions.subset(keep), first_pass.ranking.top1[keep]))
            rankings_2, slots = _slots(linkers, mentions, doc_ents, cfg)
            rankings.update(rankings_2)
            if round_ == 0 and dev_kriss_2 is not None:
                # pass 2's combination and calibration: fitted on the pseudo-dev set linked by its self-trained
                # KRISS (its own low-risk links as prototypes); the first-pass fit is kept as a variant
                variants["harmonized_first_pass_dev"] = harmonize(slots, polar_harmonizer(cfg, hseed), dev=dev_input_1,
                                                                  folds=cfg.calibration.folds)
                dev_lk.linkers["kriss"] = dev_kriss_2
                dev_input = dev_lk.slots(list(linkers), cfg)
            harm = harmonize(slots, polar_harmonizer(cfg, hseed), dev=dev_input, folds=cfg.calibration.folds)
            if harm.link_model is not None:
                dev_info.update(harm.link_model.dev)
        clock.lap("self_training")
    dev_info["self_train_prototypes"] = n_linked
    for name, lk in extra.items():
        rankings[name] = lk.rank(mentions, k)
    if extra:
        clock.lap("ablations")
    return LinkRun(mentions, rankings, slots, harm, universe, len(selfsup), trainer, clock.phases, n_proto,
                   {pos[m.entity] for m in selfsup}, {pos[m.entity] for m in protos}, dev_info, dev_input,
                   first_pass, variants)


def link_text_mentions(linkers: dict, harm: HarmonizedLinks, unlabelled: Sequence[Document], ontology: Ontology,
                       matcher: NameMatcher, universe: np.ndarray, cfg: LinkingConfig, max_risk: float,
                       skip_docs: set[str]) -> tuple[tuple[MentionSet, np.ndarray] | None, dict]:
    """Self-training on the unlabelled text (no gold): ``cfg.self_train_text``'s detector finds mentions in
    the documents not in ``skip_docs`` (the documents to link, whose own mentions self-train already), the
    first-pass ``linkers`` link them and ``harm``'s fitted POLAR (and pseudo-dev calibration) harmonizes
    them without refitting; a link with risk < ``max_risk`` to a term of ``universe`` is kept (with
    ``self_train_text_surfaces = "non_names"`` only where the surface is no ontology name: a name's
    occurrences are self-supervised mentions already), once per distinct (surface, term).
    Returns ((mentions, entity positions) or None, counts)."""
    docs = [d for d in unlabelled if d.id not in skip_docs]
    ms = text_mentions(docs, ontology, cfg.self_train_text, cfg.window, cfg.expand_abbreviations) if docs else None
    info = {"detector": cfg.self_train_text, "documents": len(docs), "mentions": 0, "low_risk": 0, "prototypes": 0}
    if ms is None:
        return None, info
    _, slots = _slots(linkers, ms, document_entities(ontology, matcher, docs), cfg)
    links = apply_links(harm, slots)
    top1 = links.ranking.top1
    low = self_training_links(links, max_risk) & np.isin(top1, universe)
    if cfg.self_train_text_surfaces == "non_names":
        names = ExactLinker().fit(ontology).rank(ms, 1).top1 >= 0
        info["name_surfaces"] = int(names.sum())
        low &= ~names
    keep = distinct_links(ms, top1, low)
    info.update(mentions=len(ms), low_risk=int(low.sum()), prototypes=int(keep.sum()),
                terms=int(len(set(top1[keep].tolist()))), mean_risk=float(np.mean(links.risk)))
    return (ms.subset(keep), top1[keep]) if keep.any() else None, info


def choose_self_train_risk(cfg: LinkingConfig, dev_lk: "_PseudoDevLinkers", top1: np.ndarray, risk: np.ndarray,
                           tuned: MemoEncoder, window: int, marked: bool) -> tuple[float, KrissLinker | None, dict]:
    """Self-training simulated on the pseudo-dev set (no gold): its own first-pass harmonized links
    whose risk is below a threshold become KRISS prototypes of their linked term (never of
    themselves), and KRISS links the pseudo-dev mentions again. ``top1``, ``risk``: shape (n,), the
    pseudo-dev mentions' first-pass links and risks (:func:`polarlab.linking.harmonize.dev_links`).

    ``self_train_risk = "auto"``: the threshold of ``self_train_grid`` (or 0, off) at which that KRISS is
    most accurate there (ties: the smaller, 0 first); a number: that threshold. Meaningful with
    ``[linking.calibration] per_term`` >= 2 (other pseudo-dev mentions of a term to be prototypes).
    Returns (threshold, the pseudo-dev KRISS at it (None at 0), pseudo-dev accuracy@1 per threshold).
    """
    grid = sorted(set(cfg.self_train_grid)) if cfg.self_train_risk == "auto" else [float(cfg.self_train_risk)]
    acc: dict = {0.0: dev_lk.accuracy(dev_lk.linkers["kriss"])}
    fitted: dict = {0.0: None}
    for t in grid:
        if t <= 0:
            continue
        keep = (top1 >= 0) & (risk < t)
        lk = KrissLinker(tuned, window, marked_names=marked).fit(
            dev_lk.names, dev_lk.positions, dev_lk.protos, dev_lk.doc_texts,
            linked=(dev_lk.mentions.subset(keep), top1[keep]))
        acc[float(t)], fitted[float(t)] = dev_lk.accuracy(lk), lk
    if cfg.self_train_risk == "auto":
        best = max(acc, key=lambda t: (acc[t], -t))
    else:
        best = float(cfg.self_train_risk)
    return best, fitted.get(best), {f"{t:g}": a for t, a in acc.items()}


SELF_TRAIN_SWEEP = (0.1, 0.25, 0.5, 0.75, 1.0)


@dataclass
class _PseudoDevLinkers:
    """The pseudo-dev mentions and the name linkers that link them, over the ontology without the
    hidden names (KRISS is added with the trained encoder: prototypes that show no hidden name)."""

    dev: PseudoDev
    mentions: MentionSet
    targets: np.ndarray
    linkers: dict
    doc_ents: dict[str, set[int]]
    names: RowTable
    protos: list[SelfSupMention]
    positions: dict[str, int]
    doc_texts: dict[str, str]

    @classmethod
    def build(cls, dev: PseudoDev, ontology: Ontology, unlabelled: Sequence[Document], doc_texts: dict[str, str],
              pool: list[SelfSupMention], cfg: LinkingConfig, base: MemoEncoder) -> "_PseudoDevLinkers":
        pos = {t: e for e, t in enumerate(ontology.ids)}
        hidden_onto = hide_names(ontology, dev.hidden_names)
        dev_ms = dev.mention_set(doc_texts, cfg.window)
        dev_docs = [d for d in unlabelled if d.id in set(dev_ms.doc_ids)]
        linkers, universe, doc_ents = _dense_linkers(hidden_onto, dev_ms, dev_docs, cfg, base)
        protos = sample_per_entity(drop_hidden(pool, dev.hidden_names), cfg.prototypes_per_entity, cfg.seed,
                                   {ontology.ids[e] for e in universe})
        return cls(dev, dev_ms, dev.targets(pos), linkers, doc_ents, names_table(hidden_onto, universe), protos,
                   pos, doc_texts)

    def kriss(self, tuned: MemoEncoder, window: int, marked_names: bool = False) -> KrissLinker:
        return KrissLinker(tuned, window, marked_names=marked_names).fit(self.names, self.positions, self.protos, self.doc_texts)

    def accuracy(self, linker) -> float:
        """Accuracy@1 of a linker on the pseudo-dev mentions (their matched terms as targets)."""
        return float(np.mean(linker.rank(self.mentions, 1).top1 == self.targets))

    def slots(self, order: list[str], cfg: LinkingConfig) -> tuple[CandidateSlots, np.ndarray]:
        _, slots = _slots({name: self.linkers[name] for name in order}, self.mentions, self.doc_ents, cfg)
        return slots, self.targets


def choose_name_form(cfg: LinkingConfig, dev_lk: _PseudoDevLinkers, tuned: MemoEncoder,
                     window: int) -> tuple[bool, dict]:
    """Whether KRISS reads its name prototypes marked (``[M] name [/M]``, the form of a query
    without context) or plain. ``name_form = "auto"``: marked only when KRISS is more accurate so
    on the pseudo-dev set (no gold). Returns (marked, pseudo-dev accuracy@1 per form compared)."""
    if cfg.name_form != "auto":
        return cfg.name_form == "marked", {}
    acc = {f: dev_lk.accuracy(dev_lk.kriss(tuned, window, f == "marked")) for f in ("plain", "marked")}
    return acc["marked"] > acc["plain"], acc


def choose_window(cfg: LinkingConfig, dev_lk: _PseudoDevLinkers, tuned: MemoEncoder) -> tuple[int, dict]:
    """The KRISS query window: ``cfg.window`` (context) or 0 (the marked mention alone).

    ``context = "auto"``: context is an optional component, so it is used only when KRISS is more
    accurate with it than without it on the pseudo-dev set (no gold); ``"on"``/``"off"``: as said.
    Returns (window, pseudo-dev accuracy@1 per window compared).
    """
    if cfg.context != "auto" or cfg.window == 0:
        return (cfg.window if cfg.context != "off" else 0), {}
    acc = {w: dev_lk.accuracy(dev_lk.kriss(tuned, w)) for w in (cfg.window, 0)}
    return (cfg.window if acc[cfg.window] > acc[0] else 0), acc
