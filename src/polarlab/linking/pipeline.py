"""The linking job: self-supervision, linkers, POLAR over their votes, self-training — in named, timed steps."""
from __future__ import annotations

import logging
import os
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
from .candidates import MemoNameMatcher, dense_universe, document_entities, rank_and_slot
from .config import LinkingConfig
from .contrastive import ContrastiveTrainer
from .devchoice import PseudoDevLinkers, choose_name_form, choose_self_train_risk, choose_window
from .encoder import MemoEncoder
from .harmonize import CandidateSlots, HarmonizedLinks, apply_links, dev_links, harmonize
from .linkers import ExactLinker, KrissLinker, NamesDenseLinker, Ranking, RowTable, SparseLinker, names_table
from .mentions import MentionSet
from .pseudodev import PseudoDev, choose_pseudo_dev, drop_hidden
from .selfsup import SelfSupMention, document_order, sample_per_entity, self_supervised_mentions
from .selftrain import SECOND_PASS_RISKS, kriss_at_risks, self_trained_kriss, self_training_links
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
        variants: other harmonized results reported beside ``harmonized`` (with the LLM linker:
            ``harmonized_without_llm``, the last pass without its column; with ``[linking.calibration]
            second_pass_risk`` other than pass2: ``harmonized_pass2_risk``, the same links with the second pass's
            own risk).
        llm: with the LLM linker ([linking.llm]): ``top1`` (its link, entity position or -1), ``risk`` (POLAR
            risk of that link: 1 - the distribution harmonized without the LLM's column at it), ``stats``
            (calls, cached, seconds) and ``dev_stats`` (the same for the pseudo-dev mentions); empty without.
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
    llm: dict = field(default_factory=dict)


class _Clock:
    def __init__(self) -> None:
        self.phases: dict[str, Phase] = {}
        self._t = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.phases[name] = Phase(now - self._t, peak_rss_mb())
        log.info("%s: %.1f s, peak %.0f MiB", name, now - self._t, peak_rss_mb())
        self._t = now


def contrastive_trainer(cfg: LinkingConfig) -> ContrastiveTrainer:
    """The KRISS trainer as ``[linking.train]`` says (anchors in context with ``cfg.window``)."""
    t = cfg.train
    return ContrastiveTrainer(max_examples=t.max_examples, per_entity=t.per_entity, batch_size=t.batch_size,
                              epochs=t.epochs, lr=t.lr, max_seq_length=cfg.max_seq_length, window=cfg.window,
                              synonym_swap=t.synonym_swap, hard_negatives=t.hard_negatives,
                              name_pairs=t.name_pairs, seed=cfg.seed, num_threads=cfg.num_threads)


def polar_harmonizer(cfg: LinkingConfig, seed: int = 0,
                     dev: tuple[CandidateSlots, np.ndarray] | None = None) -> PolarHarmonizer:
    """The POLAR harmonizer over ``cfg.n_slots`` candidate slots, as ``[linking.harmonizer]`` says; with
    ``weights = "pseudo_dev"`` the linkers' weights come from ``dev`` (:func:`pseudo_dev_weights`)."""
    h = cfg.harmonizer
    weights = h.weights
    if weights == "pseudo_dev":
        weights = pseudo_dev_weights(*dev) if dev is not None and len(dev[1]) else "equal"
    return PolarHarmonizer(n_classes=cfg.n_slots, model=h.model, scalarization=h.scalarization, weights=weights,
                           seed=seed, combine=h.combine, n_seeds=h.n_seeds)


def pseudo_dev_weights(dev_slots: CandidateSlots, targets: np.ndarray) -> np.ndarray:
    """Shape (m,): each linker's accuracy@1 on the pseudo-dev mentions it links (its top-1 slot holds the
    self-supervised target; no gold), over the mean of the m (a linker that links none gets the mean). A weak
    linker then counts less in POLAR's objective than one the pseudo-dev set finds right more often."""
    n, m = dev_slots.L.shape
    acc = np.full(m, np.nan)
    for j in range(m):
        votes = dev_slots.L[:, j] >= 0
        if votes.any():
            picked = dev_slots.entities[np.flatnonzero(votes), dev_slots.L[votes, j]]
            acc[j] = float(np.mean(picked == np.asarray(targets)[votes]))
    acc = np.where(np.isnan(acc), np.nanmean(acc) if np.isfinite(acc).any() else 1.0, acc)
    return acc / acc.mean() if acc.mean() > 0 else np.ones(m)


def run_link(mentions: MentionSet, ontology: Ontology, unlabelled: Sequence[Document], cfg: LinkingConfig,
             link_docs: Sequence[Document] = (), cache_dir=None, ablations: bool = False,
             harmonizer_seed: int | None = None, matcher: MemoNameMatcher | None = None,
             llm_cache: str | os.PathLike = ":memory:") -> LinkRun:
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
        matcher: the name matcher over ``ontology`` that already scanned some of these texts (the mentions found by
            matching, :meth:`MentionSet.from_matches`), so that no text is scanned twice; None = a new one.
        llm_cache: the SQLite answer cache of the LLM linker (``[linking.llm]``; a re-run makes no calls).
    """
    if not len(ontology):
        raise InputError("the ontology is empty", column="ontology.paths", fix="give OBO or TSV files with terms")
    llm = build_link_llm(cfg, llm_cache)   # a bad backend or model file stops the run here, before any slow work
    threads = torch.get_num_threads()
    if cfg.num_threads:
        torch.set_num_threads(cfg.num_threads)
    try:
        return _run(mentions, ontology, unlabelled, cfg, link_docs, cache_dir, ablations, harmonizer_seed, matcher,
                    llm, llm_cache)
    finally:
        torch.set_num_threads(threads)


@dataclass
class _Job:
    """What :func:`run_link` was given, and the clock that times its phases: read by every step."""

    mentions: MentionSet
    ontology: Ontology
    unlabelled: Sequence[Document]
    cfg: LinkingConfig
    link_docs: Sequence[Document]
    cache_dir: str | os.PathLike | None
    ablations: bool
    harmonizer_seed: int | None
    matcher: MemoNameMatcher | None = None
    llm: object | None = None
    llm_cache: str | os.PathLike = ":memory:"
    clock: _Clock = field(default_factory=_Clock)

    def __post_init__(self) -> None:
        # every sample (self-supervised mentions, pseudo-dev set, prototypes, training order, text
        # mentions) starts from the documents sorted by id: their order in the files does not matter
        self.unlabelled = document_order(self.unlabelled)

    @property
    def hseed(self) -> int:
        """The harmonizer's seed: ``harmonizer_seed``, else ``cfg.seed``."""
        return self.cfg.seed if self.harmonizer_seed is None else self.harmonizer_seed


@dataclass
class _SelfSupervision:
    """Step 1's output: the ontology's name index and what its names find in the unlabelled text.

    Attributes:
        pos: term id -> entity position.
        doc_texts: unlabelled document id -> its text.
        selfsup: every self-supervised mention (an ontology name found in the unlabelled text).
        dev: the pseudo-dev set held out of them (possibly empty); pool: the others.
        visible_share: share of the mentions to link that some ontology name matches exactly.
    """

    pos: dict[str, int]
    matcher: NameMatcher
    exact: ExactLinker
    sparse: SparseLinker
    doc_texts: dict[str, str]
    selfsup: list[SelfSupMention]
    dev: PseudoDev
    pool: list[SelfSupMention]
    visible_share: float


@dataclass
class _Linkers:
    """Step 2's output: the entities the dense linkers search and the linkers that vote.

    Attributes:
        voting: linker name -> linker, in the harmonizer's order; step 3 adds ``kriss`` and each
            self-training round replaces it.
        universe: entity positions the dense linkers search; names: their names table.
        doc_ents: document id -> entity positions named in the document's text.
        base: the unmodified encoder (vectors cached under ``cache_dir``).
    """

    voting: dict
    universe: np.ndarray
    names: RowTable
    doc_ents: dict[str, set[int]]
    base: MemoEncoder


@dataclass
class _Kriss:
    """Step 3's output: the KRISS encoder and how it reads queries and names (the configured
    defaults, no encoder, without KRISS).

    Attributes:
        window: the query's context window (0: the marked mention alone); marked: whether name
            prototypes are read marked.
        trainer, tuned: the contrastive trainer and the encoder it trained.
        protos: the self-supervised mentions sampled as KRISS's prototypes.
        dev_lk: the pseudo-dev linkers the window and name form were chosen on (None without them).
        dev_windows, dev_marked: pseudo-dev accuracy@1 per window / name form compared.
    """

    window: int
    marked: bool
    trainer: ContrastiveTrainer | None = None
    tuned: MemoEncoder | None = None
    protos: list[SelfSupMention] = field(default_factory=list)
    dev_lk: PseudoDevLinkers | None = None
    dev_windows: dict = field(default_factory=dict)
    dev_marked: dict = field(default_factory=dict)

    @classmethod
    def configured(cls, cfg: LinkingConfig, **parts) -> "_Kriss":
        """The window and name form as configured (``"auto"`` reads as context on, names plain)."""
        return cls(window=cfg.window if cfg.context != "off" else 0, marked=cfg.name_form == "marked", **parts)


@dataclass
class _Pass:
    """The current linking pass; each self-training round updates it.

    Attributes:
        rankings: linker name -> ranking of the mentions (also ``kriss_first_pass`` and the
            ablations at the end).
        slots: the harmonizer's candidate slots; harm: the harmonized links.
        dev_lk: the pseudo-dev linkers (None without a pseudo-dev set); dev_input: their slots and
            targets, which calibrate the harmonizer; dev_info: the pseudo-dev figures reported.
    """

    rankings: dict[str, Ranking]
    slots: CandidateSlots
    harm: HarmonizedLinks
    dev_lk: PseudoDevLinkers | None
    dev_input: tuple[CandidateSlots, np.ndarray] | None
    dev_info: dict


@dataclass
class _SelfTraining:
    """What self-training adds: the first pass's links and slots (None when no round ran), the variants
    reported beside the final links, and the number of mention links KRISS took as prototypes."""

    first_pass: HarmonizedLinks | None = None
    first_slots: CandidateSlots | None = None
    variants: dict[str, HarmonizedLinks] = field(default_factory=dict)
    n_linked: int = 0


def _run(mentions, ontology, unlabelled, cfg, link_docs, cache_dir, ablations, harmonizer_seed,
         matcher=None, llm=None, llm_cache=":memory:") -> LinkRun:
    """The linking job (see :func:`run_link`), step by step; each step times its phases on ``job.clock``.

    1. self-supervision: the ontology's names found in the unlabelled text, the pseudo-dev set held out;
    2. name linkers (exact, sparse, names_dense) and the entities the dense linkers search;
    3. KRISS: contrastive training, window and name form chosen on the pseudo-dev set, prototypes
       (and the ablation variants);
    4. first pass: every linker ranks the mentions, POLAR harmonizes their votes;
    5-7. self-training: the risk threshold chosen on the pseudo-dev set, the unlabelled text's
       low-risk links, the rounds that retrain KRISS on the low-risk links and harmonize again;
    8. with [linking.llm]: the LLM linker chooses among the other linkers' top candidates and votes too, the
       last pass is harmonized again with its column (the pass without it kept as a variant);
    9. the final links' risk as ``[linking.calibration] second_pass_risk`` says (the links unchanged);
    then the ablations rank the mentions.
    """
    job = _Job(mentions, ontology, unlabelled, cfg, link_docs, cache_dir, ablations, harmonizer_seed, matcher,
               llm, llm_cache)
    ss = _self_supervision(job)
    lks = _voting_name_linkers(job, ss)
    kr = _Kriss.configured(cfg)
    extra: dict = {}
    if "kriss" in cfg.linkers:
        kr = _train_kriss(job, ss, lks)
        lks.voting["kriss"] = KrissLinker(kr.tuned, kr.window, marked_names=kr.marked).fit(
            lks.names, ss.pos, kr.protos, ss.doc_texts)
        if ablations:
            extra = _kriss_ablations(job, ss, lks, kr)
        job.clock.lap("kriss_prototypes")
    p = _first_pass(job, ss, lks, kr)
    risk_t, dev_kriss_2 = _self_train_threshold(job, lks, kr, p)
    text_links = _text_links(job, ss, lks, p, risk_t)
    st = _self_train_rounds(job, ss, lks, kr, p, risk_t, dev_kriss_2, text_links, extra)
    p.dev_info["self_train_prototypes"] = st.n_linked
    llm_info = _llm_pass(job, lks, p, st) if job.llm is not None else {}
    _second_pass_risk(job, p, st)
    for name, lk in extra.items():
        p.rankings[name] = lk.rank(mentions, cfg.top_k)
    if extra:
        job.clock.lap("ablations")
    n_proto = lks.voting["kriss"].n_prototypes_ if "kriss" in lks.voting else 0
    warn_uncalibrated(p.dev_info)
    return LinkRun(mentions, p.rankings, p.slots, p.harm, lks.universe, len(ss.selfsup), kr.trainer, job.clock.phases,
                   n_proto, {ss.pos[m.entity] for m in ss.selfsup}, {ss.pos[m.entity] for m in kr.protos}, p.dev_info,
                   p.dev_input, st.first_pass, st.variants, llm_info)


def warn_uncalibrated(dev_info: dict) -> bool:
    """Say so (a logged warning) when the links' risk could not be calibrated on a pseudo-dev set, so that it is
    POLAR's own ``1 - p``: far too sure on a small ontology (every link about 1e-6 with 12 terms whose linkers
    agree). Returns whether it warned."""
    if dev_info.get("calibrated"):
        return False
    why = dev_info.get("why") or (
        f"the {dev_info['n']} pseudo-dev links were all right or all wrong: no error rate to fit" if dev_info.get("n")
        else "no pseudo-dev set: the unlabelled text gave no self-supervised mentions to hold out")
    log.warning("the links' risk is not calibrated (%s): it is POLAR's 1 - p, which reads as a ranking (review the "
                "highest first), not as a chance of error; more unlabelled text ([linking] unlabelled) gives the "
                "pseudo-dev set that calibrates it", why)
    return True


def _self_supervision(job: _Job) -> _SelfSupervision:
    """Step 1 (phases ``index_ontology``, ``selfsup_matching``): index the ontology's names, find them in
    the unlabelled text (self-supervised mentions) and hold some out as the pseudo-dev set
    (:func:`polarlab.linking.pseudodev.choose_pseudo_dev`; no gold)."""
    ontology, cfg = job.ontology, job.cfg
    pos = {t: e for e, t in enumerate(ontology.ids)}
    matcher = MemoNameMatcher(ontology) if job.matcher is None else job.matcher    # one scan of each text
    exact = ExactLinker().fit(ontology)
    sparse = SparseLinker().fit(ontology)
    job.clock.lap("index_ontology")

    doc_texts = {d.id: d.text for d in job.unlabelled}
    selfsup: list[SelfSupMention] = self_supervised_mentions(job.unlabelled, matcher)
    visible_share = float(np.mean(exact.rank(job.mentions, 1).top1 >= 0)) if len(job.mentions) else 0.0
    dev = choose_pseudo_dev(selfsup, ontology, cfg.calibration.pseudo_dev, visible_share, cfg.seed,
                            per_term=cfg.calibration.per_term)
    held = set(dev.mentions)
    pool = [m for m in selfsup if m not in held]
    job.clock.lap("selfsup_matching")
    return _SelfSupervision(pos, matcher, exact, sparse, doc_texts, selfsup, dev, pool, visible_share)


def _voting_name_linkers(job: _Job, ss: _SelfSupervision) -> _Linkers:
    """Step 2 (phase ``names_dense_index``): the entities the dense linkers search
    (:func:`dense_universe`) and the configured name linkers (exact, sparse, names_dense) that vote.
    ``names_dense`` is also fitted, without voting, when ablations are asked."""
    cfg = job.cfg
    doc_ents = document_entities(job.ontology, ss.matcher, list(job.link_docs))
    universe = dense_universe(job.ontology, job.mentions, ss.sparse, ss.exact, doc_ents, cfg)
    names = names_table(job.ontology, universe)
    base = MemoEncoder(Embedder(batch_size=64), cfg.max_seq_length, job.cache_dir, tag="base")
    linkers: dict = {}
    if "exact" in cfg.linkers:
        linkers["exact"] = ss.exact
    if "sparse" in cfg.linkers:
        linkers["sparse"] = ss.sparse
    if "names_dense" in cfg.linkers or job.ablations:
        nd = NamesDenseLinker(base).fit(names)
        if "names_dense" in cfg.linkers:
            linkers["names_dense"] = nd
    job.clock.lap("names_dense_index")
    return _Linkers(linkers, universe, names, doc_ents, base)


def _train_kriss(job: _Job, ss: _SelfSupervision, lks: _Linkers) -> _Kriss:
    """Step 3 (phases ``contrastive_training``, ``pseudo_dev_window``): train the KRISS encoder on the
    self-supervised mentions outside the pseudo-dev set and on name pairs (never a hidden name); with
    a pseudo-dev set, choose its query window and name form there (:func:`choose_window`,
    :func:`choose_name_form`; no gold); sample its prototypes."""
    cfg, ontology, ids = job.cfg, job.ontology, job.ontology.ids
    trainer = contrastive_trainer(cfg)
    triples = trainer.make_examples(drop_hidden(ss.pool, ss.dev.hidden_names), ss.doc_texts, ontology, ss.sparse)
    triples += trainer.make_name_pairs(ontology, [ids[e] for e in lks.universe], ss.sparse)
    triples = drop_hidden(triples, ss.dev.hidden_names)
    tuned = MemoEncoder(Embedder(batch_size=64), cfg.max_seq_length, None, tag="kriss", pooling=cfg.pooling)
    trainer.fit(tuned, triples)
    job.clock.lap("contrastive_training")
    kr = _Kriss.configured(cfg, trainer=trainer, tuned=tuned)
    if len(ss.dev):
        kr.dev_lk = PseudoDevLinkers.build(ss.dev, ontology, job.unlabelled, ss.doc_texts, ss.pool, cfg, lks.base)
        kr.window, kr.dev_windows = choose_window(cfg, kr.dev_lk, tuned)
        kr.marked, kr.dev_marked = choose_name_form(cfg, kr.dev_lk, tuned, kr.window)
        job.clock.lap("pseudo_dev_window")
    # the held-out mentions may be prototypes here: only the pseudo-dev linkers must not see them
    kr.protos = sample_per_entity(ss.selfsup, cfg.prototypes_per_entity, cfg.seed, {ids[e] for e in lks.universe})
    return kr


def _kriss_ablations(job: _Job, ss: _SelfSupervision, lks: _Linkers, kr: _Kriss) -> dict[str, KrissLinker]:
    """KRISS variants that are measured but do not vote: without context, with ``cfg.window``'s context,
    with name-only prototypes, on the untrained encoder, with the other name form, and with every
    self-supervised mention of a term as its prototypes. Returns name -> fitted linker."""
    cfg = job.cfg
    names, pos, protos, texts, tuned, window = lks.names, ss.pos, kr.protos, ss.doc_texts, kr.tuned, kr.window
    KL = partial(KrissLinker, marked_names=kr.marked)
    extra: dict = {}
    extra["kriss_no_context"] = KL(tuned, 0, name="kriss_no_context").fit(names, pos, protos, texts)
    extra["kriss_with_context"] = KL(tuned, cfg.window, name="kriss_with_context").fit(names, pos, protos, texts)
    extra["kriss_names_only"] = KL(tuned, window, use_contexts=False, name="kriss_names_only").fit(names, pos)
    untrained = MemoEncoder(lks.base.embedder, cfg.max_seq_length, job.cache_dir, tag="base", pooling=cfg.pooling,
                            memo=lks.base._memo)
    extra["kriss_untrained"] = KL(untrained, window, name="kriss_untrained").fit(names, pos, protos, texts)
    other = "kriss_plain_names" if kr.marked else "kriss_marked_names"
    extra[other] = KrissLinker(tuned, window, marked_names=not kr.marked, name=other).fit(names, pos, protos, texts)
    every = sample_per_entity(ss.selfsup, len(ss.selfsup), cfg.seed, {job.ontology.ids[e] for e in lks.universe})
    extra["kriss_all_prototypes"] = KL(tuned, window, name="kriss_all_prototypes").fit(names, pos, every, texts)
    return extra


def _first_pass(job: _Job, ss: _SelfSupervision, lks: _Linkers, kr: _Kriss) -> _Pass:
    """Step 4 (phases ``link``, ``pseudo_dev``, ``harmonize``): every voting linker ranks the mentions,
    their votes fill the candidate slots, and POLAR harmonizes them, calibrated on the pseudo-dev set
    linked the same way (KRISS with the chosen window and name form) when there is one."""
    cfg = job.cfg
    rankings, slots = rank_and_slot(lks.voting, job.mentions, lks.doc_ents, cfg)
    job.clock.lap("link")
    dev_lk, dev_input, dev_info = kr.dev_lk, None, {}
    if len(ss.dev):
        if dev_lk is None:
            dev_lk = PseudoDevLinkers.build(ss.dev, job.ontology, job.unlabelled, ss.doc_texts, ss.pool, cfg, lks.base)
        if kr.tuned is not None:
            dev_lk.linkers["kriss"] = dev_lk.kriss(kr.tuned, kr.window, kr.marked)
        dev_input = dev_lk.slots(list(lks.voting), cfg)
        dev_info = {"n": len(ss.dev), "n_hidden": int(ss.dev.hidden.sum()), "visible_share": ss.visible_share,
                    "kriss_window": kr.window, "kriss_acc_by_window": kr.dev_windows,
                    "kriss_marked_names": kr.marked, "kriss_acc_by_name_form": kr.dev_marked}
        job.clock.lap("pseudo_dev")
    harm = harmonize(slots, polar_harmonizer(cfg, job.hseed, dev_input), dev=dev_input, folds=cfg.calibration.folds)
    if harm.link_model is not None:
        dev_info.update(harm.link_model.dev)
    job.clock.lap("harmonize")
    return _Pass(rankings, slots, harm, dev_lk, dev_input, dev_info)


def _self_train_threshold(job: _Job, lks: _Linkers, kr: _Kriss, p: _Pass) -> tuple[float, KrissLinker | None]:
    """Step 5 (phase ``pseudo_dev_self_train`` when it simulates): the risk below which a first-pass link
    becomes a KRISS prototype. Chosen on the pseudo-dev set (:func:`choose_self_train_risk`; no gold)
    when it can be; ``"auto"`` without one: 0.5. Returns (threshold, the pseudo-dev KRISS self-trained
    at it or None) and records the threshold (and accuracies) in ``p.dev_info``."""
    cfg = job.cfg
    risk_t, dev_kriss_2 = cfg.self_train_risk, None
    if "kriss" in lks.voting and p.dev_lk is not None and p.harm.link_model is not None and (
            risk_t == "auto" or cfg.calibration.per_term > 1):
        d = dev_links(p.harm, p.dev_input[0])
        risk_t, dev_kriss_2, p.dev_info["self_train_acc_by_risk"] = choose_self_train_risk(
            cfg, p.dev_lk, d.ranking.top1, np.asarray(d.risk), kr.tuned, kr.window, kr.marked)
        job.clock.lap("pseudo_dev_self_train")
    if risk_t == "auto":  # no pseudo-dev set to choose on: the stated rule, links more likely right than wrong
        risk_t = 0.5
    p.dev_info["self_train_risk"] = float(risk_t)
    return risk_t, dev_kriss_2


def _text_links(job: _Job, ss: _SelfSupervision, lks: _Linkers, p: _Pass,
                risk_t: float) -> tuple[MentionSet, np.ndarray] | None:
    """Step 6 (phase ``self_train_text``, with ``self_train_text`` on): the first pass's low-risk links of
    mentions found in the unlabelled text (:func:`link_text_mentions`), recorded in ``p.dev_info``;
    None when off or none is kept."""
    cfg = job.cfg
    if cfg.self_train_text == "off" or "kriss" not in lks.voting or not risk_t > 0:
        return None
    text_links, p.dev_info["self_train_text"] = link_text_mentions(
        lks.voting, p.harm, job.unlabelled, job.ontology, ss.matcher, lks.universe, cfg, risk_t,
        {d.id for d in job.link_docs})
    job.clock.lap("self_train_text")
    return text_links


def _self_train_rounds(job: _Job, ss: _SelfSupervision, lks: _Linkers, kr: _Kriss, p: _Pass, risk_t: float,
                       dev_kriss_2: KrissLinker | None, text_links: tuple | None, extra: dict) -> _SelfTraining:
    """Step 7 (phase ``self_training``, each of ``self_train_rounds`` rounds): the current pass's links
    with risk < ``risk_t`` (and ``text_links``) become prototypes of a retrained KRISS
    (:func:`polarlab.linking.selftrain.self_trained_kriss`), which replaces ``lks.voting["kriss"]``;
    the votes are harmonized again into ``p``. In round 0 the pseudo-dev calibration switches to
    ``dev_kriss_2`` (the first-pass calibration kept as a variant) and, with ablations, ``extra`` gets
    KRISS self-trained at the other thresholds of :data:`SELF_TRAIN_SWEEP`."""
    cfg, st = job.cfg, _SelfTraining()
    dev_input_1 = p.dev_input
    for round_ in range(cfg.self_train_rounds if "kriss" in lks.voting and risk_t > 0 else 0):
        linked = self_training_links(p.harm, risk_t)
        st.n_linked = int(linked.sum())
        if st.n_linked or text_links is not None:
            if st.first_pass is None:
                st.first_pass, st.first_slots = p.harm, p.slots
                p.rankings["kriss_first_pass"] = p.rankings["kriss"]
            lks.voting["kriss"] = self_trained_kriss(
                kr.tuned, kr.trainer, kr.window, cfg.self_train_epochs, lks.names, ss.pos, kr.protos, ss.doc_texts,
                job.mentions, linked, p.harm.ranking.top1, job.ontology, marked_names=kr.marked, text_links=text_links)
            if job.ablations and round_ == 0:
                extra.update(_self_train_sweep(job, ss, lks, kr, st.first_pass, risk_t))
            rankings_2, p.slots = rank_and_slot(lks.voting, job.mentions, lks.doc_ents, cfg)
            p.rankings.update(rankings_2)
            if round_ == 0 and dev_kriss_2 is not None:
                # pass 2's combination and calibration: fitted on the pseudo-dev set linked by its self-trained
                # KRISS (its own low-risk links as prototypes); the first-pass fit is kept as a variant
                st.variants["harmonized_first_pass_dev"] = harmonize(
                    p.slots, polar_harmonizer(cfg, job.hseed, dev_input_1), dev=dev_input_1,
                    folds=cfg.calibration.folds)
                p.dev_lk.linkers["kriss"] = dev_kriss_2
                p.dev_input = p.dev_lk.slots(list(lks.voting), cfg)
            p.harm = harmonize(p.slots, polar_harmonizer(cfg, job.hseed, p.dev_input), dev=p.dev_input,
                               folds=cfg.calibration.folds)
            if p.harm.link_model is not None:
                p.dev_info.update(p.harm.link_model.dev)
        job.clock.lap("self_training")
    return st


def _second_pass_risk(job: _Job, p: _Pass, st: _SelfTraining) -> None:
    """After self-training: the final links' risk as ``[linking.calibration] second_pass_risk`` says
    (:data:`polarlab.linking.selftrain.SECOND_PASS_RISKS`); the links are not touched. With a risk other than the
    second pass's own, that one is kept as the variant ``harmonized_pass2_risk``."""
    if st.first_pass is None:
        return
    judged = SECOND_PASS_RISKS[job.cfg.calibration.second_pass_risk](p.harm, st.first_pass, st.first_slots)
    if judged is not p.harm:
        st.variants["harmonized_pass2_risk"], p.harm = p.harm, judged


def _self_train_sweep(job: _Job, ss: _SelfSupervision, lks: _Linkers, kr: _Kriss, first_pass: HarmonizedLinks,
                      risk_t: float) -> dict[str, KrissLinker]:
    """Ablations: KRISS with the first pass's links below each other threshold of :data:`SELF_TRAIN_SWEEP`
    as prototypes (measured by KRISS's own ranking only, no re-harmonizing)."""
    others = [t for t in SELF_TRAIN_SWEEP if t != risk_t and self_training_links(first_pass, t).any()]
    fits = kriss_at_risks(kr.tuned, kr.window, kr.marked, lks.names, ss.pos, kr.protos, ss.doc_texts, job.mentions,
                          first_pass.ranking.top1, first_pass.risk, others)
    return {f"kriss_self_train_{t:g}": lk for t, lk in fits.items()}


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
    _, slots = rank_and_slot(linkers, ms, document_entities(ontology, matcher, docs), cfg)
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


SELF_TRAIN_SWEEP = (0.1, 0.25, 0.5, 0.75, 1.0)


def build_link_llm(cfg: LinkingConfig, cache: str | os.PathLike = ":memory:"):
    """The LLM linker's backend as ``[linking.llm]`` says (None when ``backend = "none"``), checked before any slow
    work: a bad key or model file, and for a server (``backend = "openai"``) one that does not answer, refuses the
    key or does not list the model, is one :class:`~polarlab.errors.ConfigError` naming its key
    (``linking.llm.options.base_url``, ...). Which mentions the linker asks about is known only after the
    training, so the server is asked even on a re-run; when it fails but the answer ``cache`` already holds
    answers of this model, the run goes on from the cache (a warning) and the error stops it at the first prompt
    whose answer is not cached (:func:`polarlab.llm.offline.offline_or_raise`): a re-run whose answers are all
    cached needs no server."""
    if not cfg.llm.on:
        return None
    from ..llm.backends import build_llm_backend, probe_backend
    from ..llm.errors import LLMConfigError
    from ..llm.offline import offline_or_raise

    where = "linking.llm.options"
    backend = build_llm_backend(cfg.llm.backend, dict(cfg.llm.options), where=where)
    try:
        probe_backend(backend, where=where)
    except LLMConfigError as e:
        backend = offline_or_raise(backend, e, cache, step="the LLM linker ([linking.llm])",
                                   drop='set [linking.llm] backend = "none"')
    return backend


def llm_link_risk(harm: HarmonizedLinks, slots: CandidateSlots, top1: np.ndarray) -> np.ndarray:
    """POLAR risk of each mention's LLM link ``top1`` (entity positions, -1 = abstained): 1 - ``harm.proba`` (the
    distribution over ``slots`` harmonized without the LLM's column) at the slot of that entity; 1 where the
    entity is in no slot or the LLM abstained."""
    risk = np.ones(len(top1))
    for i, e in enumerate(top1):
        hit = np.flatnonzero(slots.entities[i] == e) if e >= 0 else []
        if len(hit):
            risk[i] = 1.0 - float(harm.proba[i, hit[0]])
    return risk


def _llm_pass(job: _Job, lks: _Linkers, p: _Pass, st: _SelfTraining) -> dict:
    """Step 8 (phases ``llm_link``, ``llm_pseudo_dev``, ``llm_harmonize``): the LLM linker
    (:class:`~polarlab.linking.linkers.LLMLinker`) over the current voting linkers' top candidates links the
    mentions (and the pseudo-dev mentions, over their linkers and the ontology without the hidden names); it
    becomes one more voting column and POLAR harmonizes again. The pass without it is kept as the variant
    ``harmonized_without_llm``; the LLM's links get their risk from that pass (:func:`llm_link_risk`)."""
    from .linkers import LLMLinker
    from .pseudodev import hide_names

    cfg, lc = job.cfg, job.cfg.llm
    sources = dict(lks.voting)
    lk = LLMLinker(job.llm, job.ontology, sources, lc.candidates, lc.window, job.llm_cache,
                   debias="none" if lc.debias == "auto" else lc.debias)
    cand, raw = lk.choose(job.mentions)
    job.clock.lap("llm_link")
    info: dict = {"stats": lk.stats}
    dev_lk = None
    if p.dev_lk is not None and p.dev_input is not None:
        dev_sources = {name: p.dev_lk.linkers[name] for name in sources}
        dev_lk = LLMLinker(job.llm, hide_names(job.ontology, p.dev_lk.dev.hidden_names), dev_sources, lc.candidates,
                           lc.window, job.llm_cache, debias=lk.debias)
        dev_lk.choose(p.dev_lk.mentions)
        info["dev_stats"] = dev_lk.stats
        job.clock.lap("llm_pseudo_dev")
    if lc.debias == "auto":   # position debiasing only where the pseudo-dev set says it helps (no gold)
        acc = {}
        if dev_lk is not None:
            for d in ("none", "position"):
                dev_lk.debias = d
                acc[d] = p.dev_lk.accuracy(dev_lk)
        lk.debias = "position" if acc and acc["position"] > acc["none"] else "none"
        if dev_lk is not None:
            dev_lk.debias = lk.debias
        info["dev_acc_by_debias"] = acc
    info["debias"] = lk.debias
    top1 = lk.rank(job.mentions, 1).top1
    asked = np.isfinite(raw).sum(axis=1) >= 2
    # position bias: how often the LLM's own answer is the first option (the fused best) where it had a choice
    own = np.argmax(np.where(np.isfinite(raw), raw, -1.0), axis=1)
    lk.stats["first_option_share_raw"] = float(np.mean(own[asked] == 0)) if asked.any() else float("nan")
    lk.stats["first_option_share"] = float(np.mean(top1[asked] == cand[asked, 0])) if asked.any() else float("nan")
    info.update(top1=top1, risk=llm_link_risk(p.harm, p.slots, top1))
    st.variants["harmonized_without_llm"] = p.harm
    lks.voting["llm"] = lk
    if dev_lk is not None:
        p.dev_lk.linkers["llm"] = dev_lk
        p.dev_input = p.dev_lk.slots(list(lks.voting), cfg)
    p.rankings["llm"] = lk.rank(job.mentions, cfg.top_k)
    _, p.slots = rank_and_slot(lks.voting, job.mentions, lks.doc_ents, cfg)
    p.harm = harmonize(p.slots, polar_harmonizer(cfg, job.hseed, p.dev_input), dev=p.dev_input,
                       folds=cfg.calibration.folds)
    if p.harm.link_model is not None:
        p.dev_info.update(p.harm.link_model.dev)
    job.clock.lap("llm_harmonize")
    return info
