"""Contrastive fine-tuning of the sentence encoder on self-supervised mentions (KRISS).

Each example is (anchor, positive, hard negative): the anchor is a self-supervised mention in its
context with entity markers (with probability ``synonym_swap`` its surface is replaced by another
name of the same entity, so the encoder learns synonymy, not string copying); the positive is a
name of the entity; the hard negative is a name of the entity whose names look most alike (TF-IDF
character n-grams). The loss is sentence-transformers' ``MultipleNegativesRankingLoss`` (InfoNCE
with in-batch negatives plus the hard negatives); a batch holds each entity at most once. With an
encoder using mention pooling (:mod:`polarlab.linking.pooling`) the same loss (cosine x scale,
cross-entropy against the own positive) is computed on the mention-pooled vectors.

Besides the mentions in context, ``name_pairs`` synonym pairs of the ontology train the same encoder
(SapBERT, Liu et al. 2021): anchor = one name of an entity, positive = another of its names. They
teach synonymy where the unlabelled text never mentions an entity. Name pairs and mentions go into
separate batches (names are short, so their batches cost little).
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Sequence

import torch

from ..errors import InputError
from ..ontology.terms import Ontology
from .encoder import MemoEncoder
from .mentions import MARK_OPEN
from .linkers.sparse import SparseLinker
from .pooling import mention_embeddings
from .selfsup import SelfSupMention


@dataclass(frozen=True)
class Triple:
    """One training example; ``entity`` is the anchor's (and positive's) ontology id."""

    anchor: str
    positive: str
    negative: str | None
    entity: str


def _features(model, texts: list[str]) -> dict:
    """Tokenised batch on the model's device (``preprocess`` in sentence-transformers >= 6, else ``tokenize``)."""
    prep = getattr(model, "preprocess", None) or model.tokenize
    return {k: (v.to(model.device) if isinstance(v, torch.Tensor) else v) for k, v in prep(texts).items()}


class ContrastiveTrainer:
    """Fine-tunes a :class:`MemoEncoder`'s model in place (scikit-learn style: params in ``__init__``).

    Args:
        max_examples: self-supervised mentions used (sampled, at most ``per_entity`` each).
        per_entity: cap per entity, so frequent names do not dominate.
        batch_size: examples per step (in-batch negatives = batch_size - 1).
        epochs: passes over the examples.
        lr: AdamW learning rate.
        max_seq_length: tokens per text while training.
        window: context characters each side of the mention.
        synonym_swap: probability of writing another name of the entity in the anchor.
        hard_negatives: add a similar-looking other entity's name per example.
        name_pairs: synonym pairs (name -> another name of the same entity) added to the examples.
        scale: the loss's similarity scale (inverse temperature).
        seed: sampling, order and torch seed.
        num_threads: torch threads while training (restored after).

    Attributes (after fit):
        n_examples_, n_steps_, losses_ (per step), seconds_.
    """

    def __init__(self, max_examples: int = 512, per_entity: int = 2, batch_size: int = 16, epochs: int = 1,
                 lr: float = 3e-5, max_seq_length: int = 48, window: int = 100, synonym_swap: float = 0.5,
                 hard_negatives: bool = True, name_pairs: int = 0, scale: float = 20.0, seed: int = 0, num_threads: int | None = 1) -> None:
        if batch_size < 2:
            raise InputError(f"batch_size={batch_size}", column="batch_size",
                             fix="use 2 or more (the other examples are the negatives)")
        self.max_examples = int(max_examples)
        self.per_entity = int(per_entity)
        self.batch_size = int(batch_size)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.max_seq_length = int(max_seq_length)
        self.window = int(window)
        self.synonym_swap = float(synonym_swap)
        self.hard_negatives = bool(hard_negatives)
        self.name_pairs = int(name_pairs)
        self.scale = float(scale)
        self.seed = int(seed)
        self.num_threads = num_threads

    def make_examples(self, mentions: Sequence[SelfSupMention], doc_texts: dict[str, str], ontology: Ontology,
                      sparse: SparseLinker | None = None) -> list[Triple]:
        """Sample mentions and build triples (``sparse``: a fitted linker over ``ontology`` for hard negatives)."""
        from .selfsup import sample_per_entity

        rng = random.Random(self.seed)
        pool = sample_per_entity(mentions, self.per_entity, self.seed)
        rng.shuffle(pool)
        pool = pool[:self.max_examples]
        if not pool:
            raise InputError("no self-supervised mentions to train on", column="linking.unlabelled",
                             fix="give unlabelled text in which ontology names occur")
        names = {m.entity: ontology.names(m.entity) for m in pool}
        negatives = self._negatives(sorted(names), ontology, sparse)
        out = []
        for m in pool:
            ns = names[m.entity]
            surface = m.surface
            if len(ns) > 1 and rng.random() < self.synonym_swap:
                surface = rng.choice([n for n in ns if n.lower() != m.surface.lower()] or ns)
            pos_choices = [n for n in ns if n.lower() != surface.lower()] or ns
            out.append(Triple(m.context(doc_texts[m.doc_id], self.window, surface), rng.choice(pos_choices),
                              negatives[m.entity], m.entity))
        return out

    def _negatives(self, entities: list[str], ontology: Ontology,
                   sparse: SparseLinker | None) -> dict[str, str | None]:
        """entity id -> the first name of the most similar-looking other entity (None when off)."""
        negatives: dict[str, str | None] = {e: None for e in entities}
        if self.hard_negatives and sparse is not None and entities:
            ids = ontology.ids
            rk = sparse.rank_texts([ontology.names(e)[0] for e in entities], 4)
            for e, row in zip(entities, rk.entities):
                other = [ids[j] for j in row if j >= 0 and ids[j] != e]
                negatives[e] = ontology.names(other[0])[0] if other else None
        return negatives

    def make_name_pairs(self, ontology: Ontology, entities: Sequence[str] | None = None,
                        sparse: SparseLinker | None = None) -> list[Triple]:
        """Up to ``name_pairs`` synonym pairs, at most one per term, from terms with two or more names:
        first those of ``entities`` (e.g. the terms the dense linkers search), then the rest of the
        ontology; anchor and positive are different names (no entity markers)."""
        if self.name_pairs <= 0:
            return []
        rng = random.Random(self.seed + 1)
        many = lambda e: len({n.lower() for n in ontology.names(e)}) > 1  # noqa: E731
        first = sorted(e for e in set(entities or ()) if many(e))
        rest = sorted(e for e in ontology.ids if many(e) and e not in set(first))
        rng.shuffle(first)
        rng.shuffle(rest)
        pool = sorted((first + rest)[:self.name_pairs])
        negatives = self._negatives(pool, ontology, sparse)
        out = []
        for e in pool:
            ns = list(dict.fromkeys(ontology.names(e)))
            anchor = rng.choice(ns)
            positive = rng.choice([n for n in ns if n.lower() != anchor.lower()])
            out.append(Triple(anchor, positive, negatives[e], e))
        rng.shuffle(out)
        return out

    def _batches(self, triples: list[Triple], rng: random.Random) -> list[list[Triple]]:
        order = triples[:]
        rng.shuffle(order)
        batches, cur, seen, later = [], [], set(), []
        for t in order:
            if t.entity in seen:
                later.append(t)
                continue
            cur.append(t)
            seen.add(t.entity)
            if len(cur) == self.batch_size:
                batches.append(cur)
                cur, seen = [], set()
                pending, later = later, []
                for p in pending:
                    if p.entity in seen:
                        later.append(p)
                    else:
                        cur.append(p)
                        seen.add(p.entity)
        if len(cur) >= 2:
            batches.append(cur)
        return batches

    def fit(self, encoder: MemoEncoder, triples: list[Triple]) -> "ContrastiveTrainer":
        """Train ``encoder``'s model on ``triples``; the encoder's memo is cleared."""
        try:                                    # sentence-transformers >= 6
            from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
        except ImportError:                     # pragma: no cover - older releases
            from sentence_transformers.losses import MultipleNegativesRankingLoss

        t0 = time.perf_counter()
        model = encoder.embedder.model
        threads = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(int(self.num_threads))
        rng = random.Random(self.seed)
        use_neg = self.hard_negatives and all(t.negative for t in triples)
        marked = [t for t in triples if MARK_OPEN in t.anchor]
        plain = [t for t in triples if MARK_OPEN not in t.anchor]
        try:
            torch.manual_seed(self.seed)
            model.max_seq_length = self.max_seq_length
            loss_fn = MultipleNegativesRankingLoss(model, scale=self.scale)
            mention = getattr(encoder, "pooling", "mean") == "mention"
            opt = torch.optim.AdamW(model.parameters(), lr=self.lr)
            model.train()
            self.losses_: list[float] = []
            for _ in range(self.epochs):
                batches = self._batches(marked, rng) + self._batches(plain, rng)
                rng.shuffle(batches)
                for batch in batches:
                    cols = [[t.anchor for t in batch], [t.positive for t in batch]]
                    if use_neg:
                        cols.append([t.negative for t in batch])
                    if mention:
                        embs = [mention_embeddings(model, c, self.max_seq_length) for c in cols]
                        logits = self.scale * embs[0] @ torch.cat(embs[1:], dim=0).T
                        loss = torch.nn.functional.cross_entropy(logits, torch.arange(len(batch)))
                    else:
                        loss = loss_fn([_features(model, c) for c in cols], None)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    self.losses_.append(float(loss.detach()))
        finally:
            model.eval()
            torch.set_num_threads(threads)
        encoder.forget()
        self.n_examples_ = len(triples)
        self.n_steps_ = len(self.losses_)
        self.seconds_ = time.perf_counter() - t0
        return self
