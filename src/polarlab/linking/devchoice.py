"""Choices made on the pseudo-dev set (no gold): the linkers that link its held-out mentions over the
ontology without their hidden names, and, by their accuracy@1 there, KRISS's query window, its name
form and the self-training risk threshold (:mod:`polarlab.linking.pseudodev` builds the set)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..data.pubtator import Document
from ..ontology.terms import Ontology
from .candidates import fit_name_linkers, rank_and_slot
from .config import LinkingConfig
from .encoder import MemoEncoder
from .harmonize import CandidateSlots
from .linkers import KrissLinker, RowTable, names_table
from .mentions import MentionSet
from .pseudodev import PseudoDev, drop_hidden, hide_names
from .selfsup import SelfSupMention, sample_per_entity
from .selftrain import kriss_at_risks


@dataclass
class PseudoDevLinkers:
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
              pool: list[SelfSupMention], cfg: LinkingConfig, base: MemoEncoder) -> "PseudoDevLinkers":
        """The linkers of ``dev``'s mentions (in ``doc_texts``) over ``ontology`` without the hidden names,
        with KRISS prototypes sampled from ``pool`` (the self-supervised mentions outside the set)."""
        pos = {t: e for e, t in enumerate(ontology.ids)}
        hidden_onto = hide_names(ontology, dev.hidden_names)
        dev_ms = dev.mention_set(doc_texts, cfg.window)
        dev_docs = [d for d in unlabelled if d.id in set(dev_ms.doc_ids)]
        linkers, universe, doc_ents = fit_name_linkers(hidden_onto, dev_ms, dev_docs, cfg, base)
        protos = sample_per_entity(drop_hidden(pool, dev.hidden_names), cfg.prototypes_per_entity, cfg.seed,
                                   {ontology.ids[e] for e in universe})
        return cls(dev, dev_ms, dev.targets(pos), linkers, doc_ents, names_table(hidden_onto, universe), protos,
                   pos, doc_texts)

    def kriss(self, tuned: MemoEncoder, window: int, marked_names: bool = False) -> KrissLinker:
        """KRISS on the ``tuned`` encoder with this set's prototypes (query ``window``, name form)."""
        return KrissLinker(tuned, window, marked_names=marked_names).fit(self.names, self.positions, self.protos,
                                                                         self.doc_texts)

    def accuracy(self, linker) -> float:
        """Accuracy@1 of a linker on the pseudo-dev mentions (their matched terms as targets)."""
        return float(np.mean(linker.rank(self.mentions, 1).top1 == self.targets))

    def slots(self, order: list[str], cfg: LinkingConfig) -> tuple[CandidateSlots, np.ndarray]:
        """The pseudo-dev mentions' candidate slots from the linkers named in ``order``, and their targets."""
        _, slots = rank_and_slot({name: self.linkers[name] for name in order}, self.mentions, self.doc_ents, cfg)
        return slots, self.targets


def choose_window(cfg: LinkingConfig, dev_lk: PseudoDevLinkers, tuned: MemoEncoder) -> tuple[int, dict]:
    """The KRISS query window: ``cfg.window`` (context) or 0 (the marked mention alone).

    ``context = "auto"``: context is an optional component, so it is used only when KRISS is more
    accurate with it than without it on the pseudo-dev set (no gold); ``"on"``/``"off"``: as said.
    Returns (window, pseudo-dev accuracy@1 per window compared).
    """
    if cfg.context != "auto" or cfg.window == 0:
        return (cfg.window if cfg.context != "off" else 0), {}
    acc = {w: dev_lk.accuracy(dev_lk.kriss(tuned, w)) for w in (cfg.window, 0)}
    return (cfg.window if acc[cfg.window] > acc[0] else 0), acc


def choose_name_form(cfg: LinkingConfig, dev_lk: PseudoDevLinkers, tuned: MemoEncoder,
                     window: int) -> tuple[bool, dict]:
    """Whether KRISS reads its name prototypes marked (``[M] name [/M]``, the form of a query
    without context) or plain. ``name_form = "auto"``: marked only when KRISS is more accurate so
    on the pseudo-dev set (no gold). Returns (marked, pseudo-dev accuracy@1 per form compared)."""
    if cfg.name_form != "auto":
        return cfg.name_form == "marked", {}
    acc = {f: dev_lk.accuracy(dev_lk.kriss(tuned, window, f == "marked")) for f in ("plain", "marked")}
    return acc["marked"] > acc["plain"], acc


def choose_self_train_risk(cfg: LinkingConfig, dev_lk: "PseudoDevLinkers", top1: np.ndarray, risk: np.ndarray,
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
    fits = kriss_at_risks(tuned, window, marked, dev_lk.names, dev_lk.positions, dev_lk.protos, dev_lk.doc_texts,
                          dev_lk.mentions, top1, risk, [float(t) for t in grid if t > 0])
    for t, lk in fits.items():
        acc[t], fitted[t] = dev_lk.accuracy(lk), lk
    if cfg.self_train_risk == "auto":
        best = max(acc, key=lambda t: (acc[t], -t))
    else:
        best = float(cfg.self_train_risk)
    return best, fitted.get(best), {f"{t:g}": a for t, a in acc.items()}
