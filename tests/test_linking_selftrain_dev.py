"""The pseudo-dev set judges self-training: several held-out mentions per term, its own low-risk
links as KRISS prototypes for the other pseudo-dev mentions (never for themselves), the threshold
chosen there without gold, and pass 2's fit on the pseudo-dev set's self-trained KRISS."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.errors import ConfigError
from polarlab.linking import MentionSet
from polarlab.linking.config import LinkingConfig, linking_project_from_dict
from polarlab.linking.harmonize import build_slots, dev_links, harmonize
from polarlab.linking.linkers import Ranking, RowTable
from polarlab.linking.linkers.kriss import KrissLinker
from polarlab.linking.devchoice import PseudoDevLinkers, choose_self_train_risk
from polarlab.linking.pseudodev import choose_pseudo_dev
from polarlab.linking.selfsup import SelfSupMention
from polarlab.ontology.terms import Ontology, Term

from hash_encoder import HashEncoder




def test_pseudo_dev_holds_several_mentions_of_a_term_where_it_has_them():
    onto = Ontology([Term(f"D:{i}", f"disease {i}", [f"syndrome {i}"]) for i in range(6)])
    ms = [SelfSupMention(f"doc{i}_{j}", 0, 9, f"disease {i}", f"D:{i}") for i in range(6) for j in range(i % 4)]
    one = choose_pseudo_dev(ms, onto, n=10, visible_share=1.0, seed=1)
    assert sorted(m.entity for m in one.mentions) == sorted({m.entity for m in ms})              # one per term
    three = choose_pseudo_dev(ms, onto, n=10, visible_share=1.0, seed=1, per_term=3)
    per = {t: sum(m.entity == t for m in three.mentions) for t in {m.entity for m in ms}}
    have = {t: sum(m.entity == t for m in ms) for t in per}
    assert per == {t: min(3, have[t]) for t in per} and len(set(three.mentions)) == len(three.mentions)
    assert len(choose_pseudo_dev(ms, onto, n=2, visible_share=1.0, seed=1, per_term=3).mentions) <= 6
    hidden = choose_pseudo_dev(ms, onto, n=10, visible_share=0.0, seed=1, per_term=3)
    # a name shown by a visible pseudo-dev mention is never hidden
    shown = {m.surface for m, h in zip(hidden.mentions, hidden.hidden) if not h}
    assert not shown & hidden.hidden_names and hidden.hidden.sum() >= 1


def _dev_linkers(surfaces: list[str], targets: list[int]) -> PseudoDevLinkers:
    texts = {f"d{i}": s for i, s in enumerate(surfaces)}
    ms = MentionSet(list(texts), np.zeros(len(surfaces), dtype=np.int64), np.asarray([len(s) for s in surfaces]),
                    surfaces, [], None, texts)
    names = RowTable(["alpha disease", "beta disease", "gamma syndrome"], np.array([0, 1, 2]))
    pos = {"A": 0, "B": 1, "C": 2}
    kriss = KrissLinker(HashEncoder(), window=0).fit(names, pos)
    return PseudoDevLinkers(None, ms, np.asarray(targets), {"kriss": kriss}, {}, names, [], pos, texts)


def test_self_train_risk_is_chosen_where_the_pseudo_dev_kriss_is_most_accurate():
    # "zeta zeta" reaches alpha only through the other alpha mention's link ("alpha zeta zeta");
    # "omega omega" is pulled to beta by a wrong, risky link of "beta omega omega"
    lk = _dev_linkers(["alpha zeta zeta", "zeta zeta", "beta omega omega", "omega omega"], [0, 0, 2, 2])
    top1, risk = np.array([0, 0, 1, 2]), np.array([0.1, 0.6, 0.7, 0.9])
    cfg = LinkingConfig(corpus=["x"], self_train_risk="auto", self_train_grid=[0.25, 0.5, 0.75, 1.0])
    t, kr, acc = choose_self_train_risk(cfg, lk, top1, risk, HashEncoder(), 0, False)
    assert acc["0"] == pytest.approx(lk.accuracy(lk.linkers["kriss"]))
    assert acc["0.25"] > acc["0"]                          # alpha's low-risk link teaches "zeta zeta"
    assert acc["0.75"] < acc["0.25"]                       # the wrong beta link (risk 0.7) now misleads
    assert t == 0.25 and kr is not None and kr.n_prototypes_ == 3 + 1
    assert kr.rank(lk.mentions, 1).top1[1] == 0
    # never its own prototype: alone, a mention's link cannot confirm itself
    alone = _dev_linkers(["zeta zeta"], [0])
    t0, kr0, acc0 = choose_self_train_risk(cfg, alone, np.array([0]), np.array([0.0]), HashEncoder(), 0, False)
    assert len(set(acc0.values())) == 1 and t0 == 0.0 and kr0 is None
    fixed = LinkingConfig(corpus=["x"], self_train_risk=0.75)
    t1, kr1, acc1 = choose_self_train_risk(fixed, lk, top1, risk, HashEncoder(), 0, False)
    assert t1 == 0.75 and set(acc1) == {"0", "0.75"} and kr1.n_prototypes_ == 3 + 3


def test_dev_links_are_the_harmonized_links_of_the_pseudo_dev_mentions():
    rng = np.random.default_rng(0)

    def slots(n):
        truth = rng.integers(0, 20, n)
        rks = []
        for p in (0.2, 0.4):
            wrong = rng.random(n) < p
            ent = np.stack([np.where(wrong, rng.integers(20, 40, n), truth), rng.integers(40, 60, n)], axis=1)
            rks.append(Ranking(ent, np.stack([np.where(wrong, 0.5, 0.9), np.full(n, 0.3)], axis=1)))
        return build_slots(rks, [r.scores[:, :1].repeat(3, axis=1) for r in rks], ["a", "b"], n_slots=3), truth

    test, _ = slots(200)
    dev, dev_truth = slots(200)
    harm = harmonize(test, dev=(dev, dev_truth))
    d = dev_links(harm, dev)
    assert d.ranking.top1.shape == (200,) and np.all((d.risk >= 0) & (d.risk <= 1))
    right = d.ranking.top1 == dev_truth
    assert right.mean() > 0.6 and d.risk[right].mean() < d.risk[~right].mean()    # risk orders the errors
    with pytest.raises(ValueError):
        dev_links(harmonize(test), dev)


def test_self_train_settings_are_validated():
    ok = LinkingConfig(corpus=["x"], self_train_risk="auto", calibration={"per_term": 3})
    assert ok.self_train_risk == "auto" and ok.calibration.per_term == 3
    for bad in ({"self_train_risk": 1.5}, {"self_train_risk": "sometimes"}, {"self_train_grid": [0.0, 0.5]},
                {"self_train_grid": []}, {"calibration": {"per_term": 0}}):
        with pytest.raises(ConfigError):
            linking_project_from_dict({"ontology": {"paths": ["o"]}, "linking": {"corpus": ["c"], **bad}})


def test_first_pass_risk_judges_the_second_pass_links_by_the_first_pass_fit():
    """second_pass_risk = "first_pass": the second pass's links and lists stay, their probability is the first
    pass's calibrated fit read at each final link (its own link: its first-pass probability; another of its
    candidates: the risk model at that slot; a candidate it never had: 1 - its own link's probability)."""
    from polarlab.linking.harmonize import probability_of
    from polarlab.linking.selftrain import SECOND_PASS_RISKS

    rng = np.random.default_rng(1)
    n = 240
    truth = rng.integers(0, 20, n)

    def rankings(p_wrong, n_rows):
        wrong = rng.random(n_rows) < p_wrong
        ent = np.stack([np.where(wrong, rng.integers(20, 40, n_rows), truth[:n_rows]),
                        rng.integers(40, 60, n_rows)], axis=1)
        return Ranking(ent, np.stack([np.where(wrong, 0.5, 0.9), np.full(n_rows, 0.3)], axis=1))

    def slots(rks):
        return build_slots(rks, [r.scores[:, :1].repeat(4, axis=1) for r in rks], ["a", "b", "c"], n_slots=4)

    first_rks = [rankings(p, n) for p in (0.2, 0.3, 0.4)]
    dev_truth = truth[:200]
    dev = slots([rankings(p, 200) for p in (0.2, 0.3, 0.4)])
    first_slots = slots(first_rks)
    first = harmonize(first_slots, dev=(dev, dev_truth))
    assert first.link_model.dev["calibrated"]
    # the second pass: linker c (KRISS, retrained) now agrees with a on every mention, and on 5 mentions all
    # three linkers name a term no first-pass slot held
    c = Ranking(first_rks[0].entities.copy(), first_rks[0].scores.copy())
    new = np.arange(5)
    a, b = (Ranking(r.entities.copy(), r.scores.copy()) for r in first_rks[:2])
    for r in (a, b, c):
        r.entities[new, 0] = 99
    second = harmonize(slots([a, b, c]), dev=(dev, dev_truth))

    assert SECOND_PASS_RISKS["pass2"](second, first, first_slots) is second
    judged = SECOND_PASS_RISKS["first_pass"](second, first, first_slots)
    assert np.array_equal(judged.ranking.entities, second.ranking.entities)       # the links and lists stay
    assert np.array_equal(judged.proba, second.proba) and np.allclose(judged.risk, 1 - judged.probability)
    top1, top1_first = second.ranking.top1, first.ranking.top1
    same, outside = top1 == top1_first, np.isin(np.arange(n), new)
    moved = ~same & ~outside
    assert same.sum() > 100 and moved.sum() >= 3 and np.all(top1[new] == 99)
    assert np.allclose(judged.probability[same], first.probability[same])         # its own first-pass probability
    at = probability_of(first, first_slots, top1)
    assert np.all(np.isnan(at[outside])) and np.allclose(judged.probability[moved], at[moved])
    slot = np.argmax(first_slots.entities == top1[:, None], axis=1)
    lm = first.link_model
    assert np.allclose(at[moved], lm.slot_probability(first_slots, first.proba_h, first.proba, slot)[moved])
    assert np.allclose(judged.probability[outside], 1 - first.probability[outside])
    assert not np.allclose(judged.probability, second.probability)


def test_second_pass_risk_is_validated_and_first_pass_by_default():
    from typing import get_args

    from polarlab.linking.config import CalibrationConfig
    from polarlab.linking.selftrain import SECOND_PASS_RISKS

    assert set(get_args(CalibrationConfig.model_fields["second_pass_risk"].annotation)) == set(SECOND_PASS_RISKS)
    assert LinkingConfig(corpus=["x"]).calibration.second_pass_risk == "first_pass"
    assert LinkingConfig(corpus=["x"], calibration={"second_pass_risk": "pass2"}).calibration.second_pass_risk \
        == "pass2"
    with pytest.raises(ConfigError, match="second_pass_risk"):
        linking_project_from_dict({"ontology": {"paths": ["o"]},
                                   "linking": {"corpus": ["c"], "calibration": {"second_pass_risk": "pass3"}}})
