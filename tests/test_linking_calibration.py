"""The self-supervised pseudo-dev set and what is fitted on it (combination, link probability)."""
from __future__ import annotations

import numpy as np

from polarlab.linking.contrastive import Triple
from polarlab.linking.harmonize import build_slots, harmonize
from polarlab.linking.linkers import Ranking
from polarlab.linking.pseudodev import choose_pseudo_dev, drop_hidden, hide_names
from polarlab.linking.selfsup import SelfSupMention
from polarlab.linking.stack import RISK_FEATURES, ConditionalLogit, fit_link_model, target_slots
from polarlab.ontology.terms import Ontology, Term


def tiny_ontology() -> Ontology:
    return Ontology([Term("D:1", "Wilson disease", ["hepatolenticular degeneration"]),
                     Term("D:2", "breast cancer", ["mammary carcinoma", "breast carcinoma"]),
                     Term("D:3", "gout")])


def test_pseudo_dev_hides_names_only_where_the_term_keeps_another():
    onto = tiny_ontology()
    ms = [SelfSupMention("a", 0, 14, "Wilson disease", "D:1"), SelfSupMention("b", 5, 21, "mammary carcinoma", "D:2"),
          SelfSupMention("c", 0, 4, "gout", "D:3"), SelfSupMention("d", 0, 4, "gout", "D:3")]
    dev = choose_pseudo_dev(ms, onto, n=10, visible_share=0.0, seed=0)
    assert len(dev) == 3 and sorted(m.entity for m in dev.mentions) == ["D:1", "D:2", "D:3"]   # one per term
    assert dev.hidden_names == {"wilson disease", "mammary carcinoma"}                          # gout: its only name
    assert dev.hidden.sum() == 2
    hidden = hide_names(onto, dev.hidden_names)
    assert hidden.ids == onto.ids
    assert hidden.names("D:1") == ["hepatolenticular degeneration"]
    assert hidden.names("D:2") == ["breast cancer", "breast carcinoma"] and hidden.names("D:3") == ["gout"]
    assert onto.names("D:1") == ["Wilson disease", "hepatolenticular degeneration"]            # a copy
    every = choose_pseudo_dev(ms, onto, n=10, visible_share=1.0, seed=0)
    assert every.hidden.sum() == 0 and not every.hidden_names
    ms_dev = dev.mention_set({"a": "Wilson disease here", "b": "x" * 30, "c": "gout", "d": "gout"}, 10)
    assert len(ms_dev) == 3 and all("[M]" in c for c in ms_dev.contexts)


def test_hidden_names_never_reach_training():
    keys = {"wilson disease"}
    triples = [Triple("copper in [M] Wilson disease [/M] liver", "hepatolenticular degeneration", None, "D:1"),
               Triple("breast cancer", "Wilson disease", None, "D:1"),
               Triple("[M] mammary carcinoma [/M] cells", "breast cancer", "Wilson disease", "D:2"),
               Triple("[M] mammary carcinoma [/M] cells", "breast cancer", None, "D:2")]
    assert drop_hidden(triples, keys) == triples[3:]
    ms = [SelfSupMention("a", 0, 14, "Wilson Disease", "D:1"), SelfSupMention("c", 0, 4, "gout", "D:3")]
    assert drop_hidden(ms, keys) == ms[1:]


def _slots(n: int, rng, noise: tuple[float, ...]):
    truth = rng.integers(0, 30, n)
    rks = []
    for p in noise:
        wrong = rng.random(n) < p
        ent = np.stack([np.where(wrong, rng.integers(30, 60, n), truth), rng.integers(60, 90, n)], axis=1)
        sc = np.stack([np.where(wrong, 0.5, 0.9) + rng.normal(0, 0.05, n), np.full(n, 0.3)], axis=1)
        rks.append(Ranking(ent, sc))
    return build_slots(rks, [r.scores[:, :1].repeat(4, axis=1) for r in rks], [f"l{j}" for j in range(len(noise))],
                       n_slots=4), truth


def test_conditional_logit_learns_which_score_to_trust():
    rng = np.random.default_rng(0)
    n, K, f = 400, 4, 3
    F = rng.normal(size=(n, K, f))
    target = (F[:, :, 1] * 3 + rng.normal(0, 0.3, (n, K))).argmax(axis=1)       # feature 1 decides
    valid = np.ones((n, K), dtype=bool)
    model = ConditionalLogit().fit(F, valid, target)
    assert np.argmax(np.abs(model.w_)) == 1 and model.w_[1] > 0
    P = model.predict_proba(F, valid)
    assert np.allclose(P.sum(axis=1), 1) and np.mean(P.argmax(axis=1) == target) > 0.8
    valid[:, 3] = False
    assert np.all(model.predict_proba(F, valid)[:, 3] == 0)


def test_pseudo_dev_calibrates_the_harmonized_link():
    rng = np.random.default_rng(2)
    test, truth = _slots(300, rng, (0.2, 0.4, 0.6))
    dev, dev_truth = _slots(300, rng, (0.2, 0.4, 0.6))
    plain = harmonize(test)
    cal = harmonize(test, dev=(dev, dev_truth))
    assert cal.link_model is not None and cal.link_model.dev["chosen"] in ("polar", "combined")
    assert np.allclose(cal.proba.sum(axis=1), 1) and np.allclose(cal.risk, 1 - cal.probability)
    err = lambda h: abs(h.probability.mean() - np.mean(h.ranking.top1 == truth))  # noqa: E731
    assert err(cal) < err(plain) and err(cal) < 0.1
    assert (target_slots(dev, dev_truth) >= 0).mean() == cal.link_model.dev["target_in_slots"]
    assert cal.link_model.dev["risk_model"] in RISK_FEATURES and cal.link_model.dev["calibrated"]
    assert set(cal.link_model.dev["risk_logloss_cv"]) == set(RISK_FEATURES)
    few, few_truth = _slots(5, rng, (0.2, 0.4, 0.6))                 # too few to fit: h(x) stands
    small = harmonize(test, dev=(few, few_truth))
    assert not small.link_model.dev["calibrated"] and "fewer than" in small.link_model.dev["why"]
    assert np.allclose(small.probability, plain.probability) and np.array_equal(small.ranking.top1, plain.ranking.top1)


def test_coverage_report_splits_mentions_by_self_supervised_terms():
    from types import SimpleNamespace

    from polarlab.linking.bench import coverage_report
    from polarlab.linking.evaluate import GoldMap

    gold = GoldMap([{0}, {1}, {2}, set()], np.array([True] * 4), np.array([True, True, True, False]))
    right = Ranking(np.array([[0], [1], [9], [9]]), np.ones((4, 1)))
    run = SimpleNamespace(selfsup_entities={0, 2}, prototype_entities={0}, n_selfsup=5,
                          rankings={"kriss": right}, harmonized=SimpleNamespace(ranking=right))
    cov = coverage_report(run, gold)
    assert (cov["mappable_covered"], cov["mappable_with_prototype"]) == (2, 1)
    assert cov["share_covered"] == 2 / 3 and cov["share_with_prototype"] == 1 / 3
    assert cov["acc1"]["kriss"] == {"covered": 0.5, "not_covered": 1.0}


def test_the_hidden_share_follows_the_visible_share():
    onto = Ontology([Term(f"D:{i}", f"disease {i}", [f"syndrome {i}"]) for i in range(8)])
    ms = [SelfSupMention(str(i), 0, 9, f"disease {i}", f"D:{i}") for i in range(8)]
    for share, n_hidden in ((0.25, 6), (0.5, 4), (1.0, 0)):
        dev = choose_pseudo_dev(ms, onto, n=8, visible_share=share, seed=3)
        assert dev.hidden.sum() == n_hidden == len(dev.hidden_names)
        assert {f"disease {m.entity[2:]}" for m, h in zip(dev.mentions, dev.hidden) if h} == dev.hidden_names
