"""The span-level harmonizer: candidate votes, non-overlapping selection, silent documents, the
majority-vote fallback, and an end-to-end run through ``run_spans`` (real MiniLM features)."""
from __future__ import annotations

import numpy as np

from polarlab.spans import Span, SpanDoc, apply_span_sources, run_spans
from polarlab.spans.aggregate import SPAN_MODELS, MajoritySpans, decode_tags
from polarlab.spans.candidates import build_candidates, candidate_features, select_spans
from polarlab.spans.sources import DictionarySpanSource, RegexSpanSource
from polarlab.spans.sources.disease import disease_acronyms, disease_heads
from polarlab.spans.span_harmonize import SpanLevelHarmonizer
from test_spans import TEXTS  # the same six hand-written abstracts

TERMS = ["Wilson disease", "hepatitis", "breast cancer", "lymphomas", "cirrhosis", "muscular dystrophy"]


def _votes(texts=TEXTS, sources=None):
    docs = [SpanDoc(str(i), t) for i, t in enumerate(texts)]
    sources = sources or [DictionarySpanSource("dict", TERMS, "Disease"), disease_heads, disease_acronyms,
                          RegexSpanSource("suffix", r"\b\w+(?:itis|omas?|osis)\b", "Disease")]
    return apply_span_sources(docs, sources, ["Disease"])


def _span(text: str, name: str, nth: int = 0) -> tuple[int, int]:
    pos = -1
    for _ in range(nth + 1):
        pos = text.index(name, pos + 1)
    return pos, pos + len(name)


def test_candidate_votes_say_right_wrong_or_silent():
    votes = _votes()
    c = build_candidates(votes)
    assert c.L.shape == (len(c), 4) and set(np.unique(c.L)) <= {-1, 0, 1}
    t = TEXTS[4]
    rows = {(int(i), s.start, s.end): r for r, (i, s) in enumerate(zip(c.doc, c.spans))}
    # the dictionary says "muscular dystrophy", the head-word rule and the acronym rule the longer span
    short, long_ = rows[(4, *_span(t, "muscular dystrophy"))], rows[(4, *_span(t, "Duchenne muscular dystrophy"))]
    assert list(c.L[short]) == [1, 0, 0, -1] and list(c.L[long_]) == [0, 1, 1, -1]
    # every candidate was proposed by someone; no candidate on the silent document
    assert (c.L == 1).any(axis=1).all() and 2 not in set(c.doc.tolist())
    F = candidate_features(c, votes, np.arange(votes.L.shape[0], dtype=np.float32)[:, None])
    a, b = c.tokens[long_]
    lo = votes.doc_start[4]
    assert F.shape == (len(c), 6) and F[long_, 1] == lo + a and F[long_, 2] == lo + b and F[long_, 5] == b - a + 1


def test_selection_keeps_the_more_probable_of_overlapping_spans_and_drops_unlikely_ones():
    votes = _votes()
    c = build_candidates(votes)
    t = TEXTS[4]
    short, long_ = (c.spans.index(Span(*_span(t, n), "Disease")) for n in ("muscular dystrophy",
                                                                             "Duchenne muscular dystrophy"))
    p = np.full(len(c), 0.9)
    p[short], p[long_] = 0.6, 0.8
    spans, probs = select_spans(c, p, len(votes.docs))
    keys = {s.key for s in spans[4]}
    assert c.spans[long_].key in keys and c.spans[short].key not in keys
    for S, P in zip(spans, probs):                   # non-overlapping, sorted, probabilities aligned
        assert S == sorted(S) and len(S) == len(P) and all(a.end <= b.start for a, b in zip(S, S[1:]))
    p[long_] = 0.3                                   # now the shorter one wins; nothing below 1/2 is output
    spans, _ = select_spans(c, p, len(votes.docs))
    assert c.spans[short].key in {s.key for s in spans[4]} and c.spans[long_].key not in {s.key for s in spans[4]}
    spans, _ = select_spans(c, np.full(len(c), 0.4), len(votes.docs))
    assert spans == [[] for _ in votes.docs]


def test_span_level_harmonizer_on_documents_where_no_source_fires():
    votes = _votes(["The ATP7B gene was sequenced.", "Nothing at all here.", ""])
    X = np.zeros((votes.L.shape[0], 2), dtype=np.float32)
    h = SPAN_MODELS["polar_spans"](folds=2).fit(votes, X)
    spans, probs = h.predict_spans(votes, X)
    assert spans == [[], [], []] and all(len(p) == 0 for p in probs)


def test_span_level_harmonizer_reports_its_choices_and_outputs_probabilities():
    votes = _votes()
    rng = np.random.default_rng(0)
    X = np.hstack([(votes.L > 0).astype(np.float32), rng.normal(size=(votes.L.shape[0], 4)).astype(np.float32)])
    h = SpanLevelHarmonizer(folds=2, tau_grid=(0.0, 1.0)).fit(votes, X)
    assert set(h.check_.by_tau) == {"tau=0.0", "tau=1.0"} and h.tau_ == h.check_.tau
    assert set(h.check_.majority) <= set(votes.sources) and h.vl_.temperature_ >= 1.0
    assert h.fallback_ == (not h.check_.polar_mean > h.check_.majority_mean)
    spans, probs = h.predict_spans(votes, X)
    assert spans[2] == [] and any(spans)
    assert all(len(S) == len(P) and ((P >= 0) & (P <= 1)).all() for S, P in zip(spans, probs))
    if not h.fallback_:                               # its own spans: proposed by someone, never overlapping
        proposed = {(i, s.key) for i, props in enumerate(votes.proposals) for P in props for s in P}
        assert all((i, s.key) in proposed for i, S in enumerate(spans) for s in S)
        assert all(a.end <= b.start for S in spans for a, b in zip(S, S[1:]))


def test_span_level_harmonizer_falls_back_to_majority_vote_when_it_cannot_beat_it(caplog):
    # two copies of one source: without either, the other's spans are what majority vote and the
    # harmonizer both output, so the harmonizer cannot beat majority vote and must say so
    docs_sources = [DictionarySpanSource("dict", TERMS, "Disease"), DictionarySpanSource("dict2", TERMS, "Disease")]
    votes = _votes(sources=docs_sources)
    X = np.random.default_rng(1).normal(size=(votes.L.shape[0], 3)).astype(np.float32)
    with caplog.at_level("WARNING"):
        h = SpanLevelHarmonizer(folds=2).fit(votes, X)
    assert h.fallback_ and "majority vote" in caplog.text
    assert h.check_.polar_mean <= h.check_.majority_mean
    spans, probs = h.predict_spans(votes, X)
    mv = votes.decode(decode_tags(MajoritySpans().predict_proba(votes), votes, "argmax"))
    assert [[s.key for s in S] for S in spans] == [[s.key for s in sorted(S)] for S in mv] and any(spans)
    assert all(len(S) == len(P) for S, P in zip(spans, probs))


def test_level_choice_takes_the_level_that_agrees_best_with_held_out_sources():
    from polarlab.spans.harmonize import SpanHarmonizer
    from polarlab.spans.span_harmonize import LevelChoice

    votes = _votes()
    rng = np.random.default_rng(0)
    X = np.hstack([(votes.L > 0).astype(np.float32), rng.normal(size=(votes.L.shape[0], 4)).astype(np.float32)])
    h = LevelChoice(folds=2, tau_grid=(0.0, 1.0)).fit(votes, X)
    a = h.agreement_
    assert set(a) == {"span", "token", "majority"} and h.level_ in ("span", "token")
    other = "token" if h.level_ == "span" else "span"
    assert a[h.level_] >= a[other] and h.fallback_ == (not a[h.level_] > a["majority"])
    assert isinstance(h.members_["span"], SpanLevelHarmonizer) and isinstance(h.members_["token"], SpanHarmonizer)
    spans, probs = h.predict_spans(votes, X)
    assert [[s.key for s in S] for S in spans] == [[s.key for s in S] for S in h.chosen_.predict_spans(votes, X)[0]]
    # probability = the mean of the token level's and the span level's, whoever chose the spans
    tok = h.members_["token"].span_probabilities(votes, X, spans)
    own = h.members_["span"].span_probabilities(votes, X, spans)
    assert all(np.allclose(P, (T + S) / 2) for P, T, S in zip(probs, tok, own)) and spans[2] == []
    assert all(np.allclose(P, T) for P, T in zip(h.span_probabilities(votes, X, spans, risk="token"), tok))
    assert all(np.allclose(P, S) for P, S in zip(h.span_probabilities(votes, X, spans, risk="span"), own))
    assert all(((P >= 0) & (P <= 1)).all() for P in probs)
    import pytest
    with pytest.raises(ValueError, match="risk"):
        LevelChoice(risk="gold")


def test_run_spans_levels_auto_by_default_span_and_token_on_request(tmp_path):
    from polarlab.spans.harmonize import SpanHarmonizer
    from polarlab.spans.span_harmonize import LevelChoice

    terms = tmp_path / "terms.txt"
    terms.write_text("\n".join(TERMS) + "\n", encoding="utf-8")
    docs = [SpanDoc(str(i), t) for i, t in enumerate(TEXTS)]
    docs[0].spans = [Span(*_span(TEXTS[0], "Wilson disease"), "Disease")]
    cfg = {"data": {"path": str(tmp_path / "unused.txt")}, "state_dir": str(tmp_path / "state"),
           "sources": [{"type": "dictionary", "name": "dict", "terms": str(terms)},
                       {"type": "function", "name": "disease_heads"},
                       {"type": "function", "name": "disease_acronyms"}],
           "harmonizer": {"features": "minilm", "folds": 2}}
    res = run_spans(cfg, docs=docs)
    assert isinstance(res.harmonizer, LevelChoice)
    out = res.methods["harmonized"]
    assert len(out.spans) == len(docs) and all(len(S) == len(P) for S, P in zip(out.spans, out.probs))
    assert out.spans[2] == [] and res.metrics["labels"]["harmonized"]["exact"]["n_pred"] == sum(map(len, out.spans))
    for level, kind in (("span", SpanLevelHarmonizer), ("token", SpanHarmonizer)):
        one = run_spans({**cfg, "harmonizer": {"features": "minilm", "folds": 2, "level": level}}, docs=docs)
        assert isinstance(one.harmonizer, kind) and one.methods["harmonized"].spans[2] == []


def test_span_vote_likelihood_keeps_every_source_better_than_random():
    from polarlab.harmonizer.combine import VoteLikelihood
    from polarlab.spans.span_harmonize import SpanVoteLikelihood

    rng = np.random.default_rng(3)
    n = 400
    y = rng.random(n) < 0.6
    good = np.where(rng.random(n) < 0.8, np.where(y, 1, -1), np.where(y, -1, 1))     # proposes right spans
    # a source that proposes mostly spans the others call wrong, and nothing else: every candidate is
    # proposed by someone, so free EM can call its proposals the "wrong" class
    noisy = np.where(~y & (rng.random(n) < 0.9), 1, np.where(y & (rng.random(n) < 0.3), 0, -1))
    L = np.stack([good, good.copy(), noisy], axis=1)
    L[(L == -1).all(axis=1), 0] = 1
    vl = SpanVoteLikelihood(2).fit(L, None, 0.0)
    theta = np.exp(vl.log_theta_)
    assert (theta[:, 1, 2] >= theta[:, 0, 2] - 1e-12).all()
    assert np.allclose(theta.sum(axis=2), 1.0) and vl.temperature_ == 1.0
    free = np.exp(VoteLikelihood(2).fit(L, None, 0.0).log_theta_)
    assert (free[:, 1, 2] < free[:, 0, 2]).any()          # what the constraint prevents
    q = vl.posterior(L, None, 0.0)[:, 1]
    assert q[good == 1].mean() > q[good == -1].mean()


def test_level_choice_scores_spans_when_no_source_proposes_anything():
    from polarlab.spans.span_harmonize import LevelChoice

    votes = _votes(sources=[RegexSpanSource("never", r"\bzzzqqq\b", "Disease"),
                            RegexSpanSource("never2", r"\bqqqzzz\b", "Disease")])
    X = np.random.default_rng(0).normal(size=(votes.L.shape[0], 4)).astype(np.float32)
    h = LevelChoice(folds=2, tau_grid=(0.0,)).fit(votes, X)
    assert h.members_["span"].vl_ is None                 # no candidates: no span-level model
    spans, probs = h.predict_spans(votes, X)
    assert spans == [[] for _ in TEXTS] and all(len(P) == 0 for P in probs)
    # a span nobody proposed is still scored (by the token level alone) and is unlikely
    wd = [[Span(*_span(TEXTS[0], "Wilson disease"), "Disease")]] + [[] for _ in TEXTS[1:]]
    P = h.span_probabilities(votes, X, wd)
    assert len(P[0]) == 1 and 0.0 <= P[0][0] < 0.5
    assert np.allclose(P[0], h.members_["token"].span_probabilities(votes, X, wd)[0])
