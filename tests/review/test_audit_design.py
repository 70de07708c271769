"""The audits the accuracy estimate reads: drawn with equal chances, and weighted by them when they are not."""
import numpy as np
import pytest

from polarlab.errors import ConfigError, InputError
from polarlab.review import SelfPacedReview, SimulatedAnnotator, ThresholdSchedule, estimate_accuracy, risk_strata
from polarlab.review.queue import draw_probability, stratified_sample


def test_weighted_audits_correct_an_unequal_inclusion():
    """One risk stratum (every label risk 0.1) holding two kinds of items: half wrong 2 % of the time, half 30 %.
    The audits drew the first kind with chance 0.08 and the second with 0.01, so the audits are mostly the good
    kind: read as they are, their error rate (~5 %) is far below the stratum's (16 %). Weighted by 1 / chance
    (Hajek), the estimate finds the truth."""
    rng = np.random.default_rng(0)
    n = 6000
    risk = np.full(n, 0.1)
    good = np.arange(n) < n // 2
    err = rng.random(n) < np.where(good, 0.02, 0.30)
    pi = np.where(good, 0.08, 0.01)
    audited = rng.random(n) < pi
    truth = 1.0 - err.mean()
    plain = estimate_accuracy(risk, np.ones(n, bool), audited, err, seed=1)
    weighted = estimate_accuracy(risk, np.ones(n, bool), audited, err, audit_weight=1.0 / pi, seed=1)
    assert not plain.lower <= truth <= plain.upper and plain.accuracy - truth > 0.05
    assert weighted.lower <= truth <= weighted.upper and abs(weighted.accuracy - truth) < 0.03
    # equal weights are the unweighted estimate; a weight that is not positive on an audit is refused
    same = estimate_accuracy(risk, np.ones(n, bool), audited, err, audit_weight=np.full(n, 7.0), seed=1)
    assert same.accuracy == pytest.approx(plain.accuracy) and same.lower == pytest.approx(plain.lower)
    with pytest.raises(ConfigError, match="audit_weight"):
        estimate_accuracy(risk, np.ones(n, bool), audited, err, audit_weight=np.zeros(n))


def test_stratified_audits_give_every_item_the_same_chance():
    """One or two audits a round over five risk strata (youtube and chemprot in ``review_curves.py``): every item
    has the chance size / pool. Before, the extra audits went to the largest fractional quotas, ties to the least
    risky strata, so the three riskiest of five equal strata were never audited."""
    rng = np.random.default_rng(2)
    risk = np.r_[np.zeros(300), np.linspace(0.05, 0.6, 700)]      # ties in the lowest stratum, as on WRENCH
    pool = np.arange(50, 1000)
    strata = risk_strata(risk[pool], 5)
    for size in (1, 2, 7):
        p = draw_probability(len(pool), size)
        assert p == pytest.approx(np.full(len(pool), size / len(pool)))
        counts = np.zeros(len(risk))
        reps = 4000
        for _ in range(reps):
            drawn = stratified_sample(risk, pool, size, rng)
            assert len(drawn) == size and len(np.unique(drawn)) == size and np.isin(drawn, pool).all()
            counts[drawn] += 1
        share = np.array([counts[pool[strata == h]].sum() for h in np.unique(strata)]) / (reps * size)
        expected = np.array([(strata == h).mean() for h in np.unique(strata)])
        assert share == pytest.approx(expected, abs=0.03)


def test_the_loop_records_equal_inclusion_chances_for_the_estimated_labels():
    """``audit_pi_``: after a few rounds every item the estimate describes (unreviewed or audited) has had the same
    chance of being audited."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    X = rng.normal(size=(400, 6)) + 1.2 * y[:, None]
    L = np.where(rng.random((400, 3)) < 0.8, y[:, None], 1 - y[:, None])
    sp = SelfPacedReview(2, ThresholdSchedule(start=0.25, step=0.05, stop=0.45), batch_size=10, audit_size=3,
                         harmonizer={"epochs": 10}).fit(L, X)
    for _ in range(3):
        sp.run_round(SimulatedAnnotator(y, 2).answer)
    pop = ~sp.reviewed_ | sp.audited_
    assert sp.audit_pi_[pop] == pytest.approx(np.full(pop.sum(), sp.audit_pi_[pop][0]))
    assert 0 < sp.audit_pi_[pop][0] < 1 and sp.audited_.sum() == 9


def _loop(audit_pool: str, audit_size: int) -> tuple[SelfPacedReview, np.ndarray]:
    """A fitted loop on 400 two-class items (the first fit: nobody has answered) and their gold."""
    rng = np.random.default_rng(4)
    y = rng.integers(0, 2, 400)
    X = rng.normal(size=(400, 6)) + 1.2 * y[:, None]
    L = np.where(rng.random((400, 3)) < 0.8, y[:, None], 1 - y[:, None])
    sp = SelfPacedReview(2, batch_size=10, audit_size=audit_size, harmonizer={"epochs": 10},
                         audit_pool=audit_pool).fit(L, X)
    return sp, y


def _threshold_accepting(sp: SelfPacedReview, count: int) -> None:
    """Set the loop's threshold so that ``count`` of the items outside the next batch are accepted."""
    rows = sp.next_batch().rows
    sp.audit_pi_[:] = 0.0                       # that look-ahead drew audits: forget their chances
    rest = np.setdiff1d(np.arange(len(sp.priority_)), rows)
    t = float(np.sort(sp.priority_[rest])[count - 1: count + 1].mean())
    sp.schedule = ThresholdSchedule("list", values=[t], stop=1.0)
    assert ((sp.priority_[rest] < t).sum() == count)


def test_accepted_pool_audits_only_accepted_items_and_records_only_their_chance():
    """``audit_pool="accepted"``: with more accepted open items than audits, every audit is one of them, each of them
    had the chance audits / their number, and no other item's ``audit_pi_`` moves."""
    sp, _ = _loop("accepted", 6)
    _threshold_accepting(sp, 150)
    batch = sp.next_batch()
    acc = (sp.priority_ < sp.threshold_) & ~np.isin(np.arange(400), batch.rows)
    assert len(batch.audit) == 6 and acc[batch.audit].all()
    assert sp.audit_pi_[acc] == pytest.approx(np.full(acc.sum(), 6 / 150))
    assert (sp.audit_pi_[~acc] == 0).all()


def test_accepted_pool_falls_back_to_the_other_open_items():
    """Fewer accepted open items (4) than audits (10): all four are audited (chance 1), the other 6 audits come from
    the rest of the open items, each with the chance 6 / their number; the batch's items get no chance."""
    sp, _ = _loop("accepted", 10)
    _threshold_accepting(sp, 4)
    batch = sp.next_batch()
    in_batch = np.isin(np.arange(400), batch.rows)
    acc = (sp.priority_ < sp.threshold_) & ~in_batch
    other = ~acc & ~in_batch
    assert len(batch.audit) == 10 and acc[batch.audit].sum() == 4 and other[batch.audit].sum() == 6
    assert sp.audit_pi_[acc] == pytest.approx(np.ones(4))
    assert sp.audit_pi_[other] == pytest.approx(np.full(other.sum(), 6 / other.sum()))
    assert (sp.audit_pi_[in_batch] == 0).all()


def test_open_pool_is_the_default_and_audits_every_open_item_alike():
    """The default pool (``"open"``) under the same threshold: every open item outside the batch has the same chance,
    accepted or not (the draw the stopping rule's ``estimate("all")`` describes); an unknown pool is refused."""
    sp, _ = _loop("open", 6)
    assert sp.audit_pool == "open"
    _threshold_accepting(sp, 150)
    batch = sp.next_batch()
    pool = ~np.isin(np.arange(400), batch.rows)
    assert sp.audit_pi_[pool] == pytest.approx(np.full(pool.sum(), 6 / pool.sum()))
    with pytest.raises(InputError, match="audit_pool"):
        SelfPacedReview(2, audit_pool="risky")


def test_an_audit_the_risk_order_reaches_leaves_the_estimate():
    """An audited item whose priority a refit raises to the top would now be reviewed by the risk order: it leaves
    the estimate's population and its audits (``audit_passed_``), as the unaudited items of that priority leave by
    review; an audit below the batch's lowest priority stays. Kept in, its error would stand for its whole stratum
    while the order removes the like errors of the others (sms with ``accepted="source"``: the interval fell below
    the truth in 0.19 of the rounds)."""
    sp, y = _loop("open", 6)
    sp.run_round(SimulatedAnnotator(y, 2).answer)
    audits = np.flatnonzero(sp.audited_)
    before = sp.estimate("all")
    assert before.n_audited == len(audits) == 6 and not sp.audit_passed_.any()
    top, low = audits[0], audits[1:]
    sp.priority_[top] = sp.priority_.max() + 1.0           # as if the refit had made it the riskiest item
    sp.priority_[low] = sp.priority_.min() - 1.0           # below anything the batch will take
    rows = sp.next_batch().rows
    assert sp.priority_[rows].min() > sp.priority_[low].max()
    assert sp.audit_passed_[top] and not sp.audit_passed_[low].any()
    after = sp.estimate("all")
    assert after.n_audited == 5 and after.n == before.n - 1
    # its answer still recalibrates the risk: it stays reviewed, only the population and the audits lose it
    assert sp.reviewed_[top] and np.isfinite(sp.review_risk_[top])


def test_tied_priorities_pass_only_the_audits_the_queue_would_serve_first():
    """When every priority ties (trec with ``accepted="source"``: from round 9 on the POLAR priority of every open
    item rounds to 0), the queue serves the tied items by source disagreement, then by position, and the batch takes
    a few of them: only an audit ranked ahead of the batch's last item has been passed. Before, every audit at or
    above the batch's lowest priority left the estimate, so all of them did and it read the calibrated risk alone."""
    sp, y = _loop("open", 6)
    sp.run_round(SimulatedAnnotator(y, 2).answer)
    audits = np.flatnonzero(sp.audited_)
    assert len(audits) == 6 and not sp.audit_passed_.any()
    sp.priority_[:] = 0.0
    sp.disagreement_[:] = 0.0
    sp.disagreement_[audits[2]] = 1.0                   # the queue would serve this one first
    rows = sp.next_batch().rows
    open_ = np.flatnonzero(~sp.reviewed_)
    assert (rows == open_[:10]).all()                   # ties: by position
    ahead = (audits == audits[2]) | (audits < rows.max())   # served before the batch's last item
    assert (sp.audit_passed_[audits] == ahead).all() and ahead.sum() < 6
    assert sp.estimate("all").n_audited == 6 - ahead.sum()
