"""The review estimate's ``estimator``: ``risk_prior`` (the default before 2026-12-03) and ``evidence`` (the default:
k weighed by the audits, the interval never narrower than what the audits alone support; :mod:`polarlab.review.evidence`)."""
import numpy as np
import pytest
from scipy.stats import beta as beta_dist

from polarlab.errors import ConfigError
from polarlab.review.estimate import StoppingRule, estimate_accuracy
from polarlab.review.evidence import STRENGTH_GRID, audit_interval, strength_posterior


def over_sure(n=2000, audits=12, seed=0):
    """Labels whose risk says 0.05-1 % wrong (500 earlier reviews at such risks found 1 wrong, so the
    recalibration keeps it), a tenth really wrong, and ``audits`` random audits that all found the label right
    (the luck of a fair sample: 0 of 12 happens 28 % of the time at a 10 % error). Returns the positional
    arguments and the recalibration's keywords."""
    rng = np.random.default_rng(seed)
    risk = rng.uniform(0.0005, 0.01, n)
    audited = np.zeros(n, dtype=bool)
    audited[rng.choice(n, audits, replace=False)] = True
    calib = dict(calib_risk=rng.uniform(0.0005, 0.01, 500), calib_error=np.arange(500) == 0)
    return (risk, np.ones(n, dtype=bool), audited, np.zeros(n, dtype=bool)), calib


def test_the_floor_binds_when_few_error_free_audits_meet_an_over_sure_risk():
    args, calib = over_sure()
    today = estimate_accuracy(*args, **calib, seed=1, estimator="risk_prior")
    new = estimate_accuracy(*args, **calib, seed=1, estimator="evidence")
    jeffreys = 1.0 - beta_dist.ppf(0.95, 0.5, 12.5)          # 0 of 12 wrong: the error's 95th percentile is 0.15
    assert today.lower > 0.98                                  # the risk prior claims far more than 12 audits show
    assert new.lower == pytest.approx(jeffreys) and new.bound == "audits"
    assert new.lower <= new.accuracy <= new.upper
    assert audit_interval(np.ones(12), np.zeros(12), 0.9)[0] == pytest.approx(jeffreys)


def pessimistic(estimator):
    """The estimate of a pessimistic risk (half the labels wrong, say 400 reviews) after 3 audits that found none
    wrong (0 of 3: the audits alone support about 0.53)."""
    rng = np.random.default_rng(4)
    n = 3000
    risk = rng.uniform(0.4, 0.6, n)
    audited = np.zeros(n, dtype=bool)
    audited[rng.choice(n, 3, replace=False)] = True
    calib = dict(calib_risk=rng.uniform(0.4, 0.6, 400), calib_error=np.arange(400) % 2 == 0)
    return estimate_accuracy(risk, np.ones(n, bool), audited, np.zeros(n, bool), **calib, seed=3, estimator=estimator)


def test_the_floor_leaves_a_lower_bound_the_audits_support():
    """The model's bound is below what the audits alone support, so it stays (``bound == "model"``)."""
    new = pessimistic("evidence")
    floor = audit_interval(np.ones(3), np.zeros(3), 0.9)[0]
    assert new.bound == "model" and new.lower < floor and 0.5 < floor < 0.6


def test_without_audits_there_is_not_enough_evidence_to_stop_on_the_target():
    (risk, pop, _, err), calib = over_sure()
    none = np.zeros(len(risk), dtype=bool)
    today = estimate_accuracy(risk, pop, none, err, **calib, estimator="risk_prior")
    assert StoppingRule(target=0.3, budget=100).check(today, 0, len(risk)) == "target"
    new = estimate_accuracy(risk, pop, none, err, **calib, estimator="evidence")
    assert new.lower < 0.01 and new.upper > 0.99 and new.bound == "audits"
    assert new.prior_strength == 2.0                                                   # no audit: k as given
    assert StoppingRule(target=0.3, budget=100).check(new, 0, len(risk)) is None
    assert StoppingRule(target=0.3, budget=100).check(new, 100, len(risk)) == "budget"


def test_the_audits_weigh_k_up_when_they_agree_and_down_when_they_contradict():
    m = np.array([0.02, 0.05, 0.1, 0.2, 0.4])
    n = np.full(5, 100.0)
    k, agree = strength_posterior(m, n, n * m, default=2.0)
    assert list(k) == list(STRENGTH_GRID) and agree.sum() == pytest.approx(1.0)
    assert agree[-1] == agree.max() and agree @ k > 4                                   # the model speaks
    _, contra = strength_posterior(m, n, np.array([40.0, 0, 60, 0, 5]), default=2.0)
    assert contra @ k < 1.5 and contra[-1] < 0.01                                       # the audits take over
    assert [list(v) for v in strength_posterior(m, np.zeros(5), np.zeros(5), default=2.0)] == [[2.0], [1.0]]


def test_the_estimate_lets_agreeing_audits_keep_the_risk_and_contradicting_ones_take_over():
    """Through the real estimator: the recalibration reads reviews that agree with the risk, the audits either
    agree too (k weighed up) or find 40 % wrong among the 60 % of labels the risk calls surest (k weighed down: the
    point estimate is the audits')."""
    rng = np.random.default_rng(7)
    n = 4000
    risk = rng.beta(0.5, 8.0, n)
    reviewed_risk = rng.beta(0.5, 8.0, 800)
    calib = dict(calib_risk=reviewed_risk, calib_error=rng.random(800) < reviewed_risk)
    audited = np.zeros(n, dtype=bool)
    audited[rng.choice(n, 400, replace=False)] = True
    agree = (rng.random(n) < risk) & audited
    low = risk < np.quantile(risk, 0.6)
    contradict = (rng.random(n) < np.where(low, 0.4, risk)) & audited
    k_agree = estimate_accuracy(risk, np.ones(n, bool), audited, agree, **calib, estimator="evidence")
    k_contra = estimate_accuracy(risk, np.ones(n, bool), audited, contradict, **calib, estimator="evidence")
    assert k_agree.prior_strength > 6 and k_contra.prior_strength < k_agree.prior_strength / 2   # 80 audits a stratum
    audits_say = 1.0 - contradict[audited].mean()
    assert abs(k_contra.accuracy - audits_say) < 0.01


def test_risk_prior_reproduces_the_estimate_before_the_option():
    """Numbers of the estimator before ``estimator`` existed (commit 950d180), same input and seed."""
    rng = np.random.default_rng(12)
    n = 3000
    risk = rng.beta(0.5, 6.0, n)
    wrong = rng.random(n) < risk
    audited = np.zeros(n, dtype=bool)
    audited[rng.choice(n, 150, replace=False)] = True
    e = estimate_accuracy(risk, np.ones(n, bool), audited, wrong & audited, seed=3, estimator="risk_prior")
    assert (e.accuracy, e.lower, e.upper) == (0.9289697281571172, 0.8986732872425465, 0.9559684857556161)
    assert (e.n_audited, e.errors_found, e.prior_strength, e.bound) == (150, 11, 2.0, "model")


def test_an_unknown_estimator_is_refused_by_name():
    (risk, pop, aud, err), _ = over_sure()
    with pytest.raises(ConfigError, match="estimator"):
        estimate_accuracy(risk, pop, aud, err, estimator="bayes")


def test_the_estimator_never_steers_the_loop():
    """The same rounds (batches, audits, labels) under either estimator: only the stopping rule reads the estimate,
    so with ``accepted="source"`` too the quality curve is the same by construction."""
    from polarlab.review import SelfPacedReview, SimulatedAnnotator, StoppingRule

    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, 6)) + 1.2 * y[:, None]
    right = rng.random((n, 3)) < [0.85, 0.75, 0.65]
    L = np.where(rng.random((n, 3)) < 0.7, np.where(right, y[:, None], 1 - y[:, None]), -1)
    loops = [SelfPacedReview(2, batch_size=15, audit_size=5, stopping=StoppingRule(budget=1.0), accepted="source",
                             harmonizer={"epochs": 20}, estimator=name).fit(L, X)
             for name in ("risk_prior", "evidence")]
    for _ in range(3):
        for sp in loops:
            sp.run_round(SimulatedAnnotator(y, 2).answer)
    a, b = loops
    assert (a.reviewed_ == b.reviewed_).all() and (a.audited_ == b.audited_).all()
    assert (a.labels() == b.labels()).all() and np.array_equal(a.risk_, b.risk_)
    assert a.history_[-1].estimate_all["bound"] == "model" and b.history_[-1].estimate_all["prior_strength"] > 0


def test_audit_floor_widens_risk_prior_interval_to_the_audits_and_keeps_its_point():
    """``audit_floor``: ``risk_prior``'s k = 2 draws and point estimate, the interval widened (never narrowed) to
    the live audits' Jeffreys interval; 0 errors in 12 audits cannot support the over-sure prior's > 0.98."""
    args, calib = over_sure()
    today = estimate_accuracy(*args, **calib, seed=1, estimator="risk_prior")
    new = estimate_accuracy(*args, **calib, seed=1, estimator="audit_floor")
    jeffreys_lo, jeffreys_hi = audit_interval(np.ones(12), np.zeros(12), 0.9)
    assert today.lower > 0.98 and jeffreys_lo < 0.86
    assert new.lower == pytest.approx(jeffreys_lo) and new.bound == "audits"
    assert new.accuracy == today.accuracy and new.strata == today.strata and new.prior_strength == 2.0
    assert new.upper == max(today.upper, jeffreys_hi)


def test_audit_floor_leaves_a_lower_bound_the_audits_support():
    """The model's bound is below the audits' own, so it stays; the point and the lower bound are ``risk_prior``'s."""
    today, new = pessimistic("risk_prior"), pessimistic("audit_floor")
    assert (new.accuracy, new.lower, new.bound) == (today.accuracy, today.lower, "model")
    assert new.upper == max(today.upper, audit_interval(np.ones(3), np.zeros(3), 0.9)[1]) > today.upper


def test_under_audit_floor_without_audits_only_the_budget_stops():
    (risk, pop, _, err), calib = over_sure()
    none = np.zeros(len(risk), dtype=bool)
    today = estimate_accuracy(risk, pop, none, err, **calib, estimator="risk_prior")
    new = estimate_accuracy(risk, pop, none, err, **calib, estimator="audit_floor")
    assert new.accuracy == today.accuracy and new.lower < 0.01 and new.upper > 0.99 and new.bound == "audits"
    rule = StoppingRule(target=0.3, budget=100)
    assert rule.check(today, 0, len(risk)) == "target"
    assert rule.check(new, 99, len(risk)) is None and rule.check(new, 100, len(risk)) == "budget"
