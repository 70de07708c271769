"""Span review queue (real SQLite store) and the span harmonizer's gold-free choices."""
from __future__ import annotations

import numpy as np

from polarlab.review.store import ReviewStore
from polarlab.spans import Span, SpanDoc, apply_span_sources
from polarlab.spans.aggregate import spans_with_probability
from polarlab.spans.harmonize import SpanHarmonizer
from polarlab.spans.review import SPAN_ANSWERS, queue_spans, reviewed_spans, span_item_id
from polarlab.spans.sources import DictionarySpanSource
from polarlab.spans.sources.disease import disease_acronyms, disease_heads

TEXT = "Wilson disease (WD) is an autosomal recessive disorder. WD patients often have liver cirrhosis."


def test_spans_go_to_the_review_queue_riskiest_first_and_answers_drop_wrong_spans(tmp_path):
    docs = [SpanDoc("a", TEXT), SpanDoc("b", "Patients with breast cancer were compared.")]
    spans = [[Span(0, 14, "Disease"), Span(16, 18, "Disease"), Span(26, 54, "Disease")], [Span(14, 27, "Disease")]]
    probs = [np.array([0.9, 0.2, 0.6]), np.array([0.7])]
    proposals = [[[Span(0, 14, "Disease")], [Span(0, 14, "Disease"), Span(16, 18, "Disease")]], [[], []]]
    store = ReviewStore(tmp_path / "review.sqlite")
    assert queue_spans(store, docs, spans, probs, proposals, ["dict", "heads"]) == 4
    assert store.meta()["labels"] == list(SPAN_ANSWERS)
    first = store.next_item("ann")
    assert first["id"] == span_item_id(docs[0], spans[0][1]) and abs(first["risk"] - 0.8) < 1e-9
    ent = first["entities"][0]
    assert first["text"][ent["start"]:ent["end"]] == "WD" and first["mention"] == "WD"
    assert [r["name"] for r in first["rules"]] == ["heads"]
    store.answer("ann", first["row"], 0)                 # the riskiest span is wrong
    second = store.next_item("ann")
    assert second["mention"] == "autosomal recessive disorder"
    store.answer("ann", second["row"], 1)                # the next one is right
    out = reviewed_spans(store, docs, spans)
    assert [s.key for s in out[0]] == [(0, 14, "Disease"), (26, 54, "Disease")] and out[1] == spans[1]


def test_harmonizer_reports_its_gold_free_choices_and_handles_silent_documents():
    texts = [TEXT, "Colorectal cancers and hepatitis were seen in carriers of the Huntington disease allele.",
             "The ATP7B gene was sequenced in 20 healthy volunteers.",
             "Ataxia-telangiectasia (A-T) is a multisystem disorder. A-T patients develop lymphomas.",
             "Duchenne muscular dystrophy (DMD) affects boys. DMD is caused by dystrophin mutations."]
    docs = [SpanDoc(str(i), t) for i, t in enumerate(texts)]
    terms = ["Wilson disease", "hepatitis", "lymphomas", "liver cirrhosis", "Duchenne muscular dystrophy"]
    votes = apply_span_sources(docs, [DictionarySpanSource("dict", terms, "Disease"), disease_heads,
                                      disease_acronyms], ["Disease"])
    rng = np.random.default_rng(0)
    X = np.hstack([(votes.L > 0).astype(np.float32), rng.normal(size=(votes.L.shape[0], 4)).astype(np.float32)])
    h = SpanHarmonizer(folds=2, tau_grid=(0.0, 1.0)).fit(votes, X)
    assert h.check_.tau_pseudo_loglik in (0.0, 1.0) and set(h.check_.pseudo_loglik) == {"tau=0.0", "tau=1.0"}
    assert set(h.check_.by_tau) <= {"tau=0.0", "tau=1.0"} and h.tau_ == h.check_.tau
    assert h.vl_.temperature_ >= 1.0 and h.decode in ("viterbi", "argmax")
    spans, _ = spans_with_probability(h.spans_proba(votes, X), votes, h.decode, "polar")
    q = h.risk_proba(votes, X)
    assert q.shape == (votes.L.shape[0], votes.k) and np.allclose(q.sum(axis=1), 1.0)
    assert spans[2] == []                                # no source fires on the gene sentence
    assert any(spans)
