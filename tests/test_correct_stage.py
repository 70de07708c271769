"""The correction stage's logic: selection within the budget, audit trail, cache reuse, re-scoring, refit.

The LLM here is a small deterministic backend behind the real LLMSource and a real SQLite cache; the
embedded model runs in test_correct_local.py.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from polarlab import KeywordSource, RegexSource, Task, apply_sources, from_pandas
from polarlab.correct import (AUDIT_COLUMNS, CorrectionConfig, DemoPool, FitData, correct_answers,
                              resolve_budget, select_rows, write_audit)
from polarlab.errors import ConfigError, InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.llm.backend import BackendReply
from polarlab.llm.cache import AnswerCache
from polarlab.llm.source import LLMSource
from polarlab.risk import risk_score

TASK = Task(labels=("ham", "spam"), instruction="Is this comment spam?", name="toy")


class RuleReader:
    """A deterministic stand-in model that reads the prompt like a (very literal) LLM.

    - evidence lines in the example's part ("... suggests spam", "labelled ham") → their majority;
    - else a "Previous answer: w." line → w (it always confirms);
    - else the example text: "http" or "win" → spam, else ham.
    Counts calls; ``abstain_on`` texts get a reply that names no label.
    """

    model_id = "rule-reader"
    max_concurrency = 1
    max_prompt_tokens = None

    def __init__(self, abstain_on: str | None = None):
        self.calls = 0
        self.prompts: list[str] = []
        self.abstain_on = abstain_on

    def params(self, mode):
        return {"backend": "rule-reader", "mode": mode}

    def count_tokens(self, text):
        return len(text.split())

    def _choose(self, suffix: str, words) -> int | None:
        if self.abstain_on and self.abstain_on in suffix:
            return None
        said = re.findall(r"(?:suggests|labelled|says) (\w+)", suffix)
        votes = [words.index(w) for w in said if w in words]
        if votes:
            return int(np.bincount(votes, minlength=len(words)).argmax())
        m = re.search(r"Previous answer: (\w+)\.", suffix)
        if m:
            return words.index(m.group(1))
        text = suffix.rsplit("Text: ", 1)[-1]
        return 1 if ("http" in text or "win" in text) else 0

    def score(self, prompt, words):
        self.calls += 1
        self.prompts.append(prompt.text)
        y = self._choose(prompt.suffix, list(words))
        if y is None:
            return BackendReply(text="hmm", dist=None, status="malformed")
        dist = np.full(len(words), 0.2 / (len(words) - 1))
        dist[y] = 0.8
        return BackendReply(text=words[y], dist=dist, tokens_in=len(prompt.text.split()), tokens_out=1)

    def generate(self, prompt):  # pragma: no cover
        raise AssertionError("scoring mode only")


TEXTS = [
    "win a free phone now", "lovely song", "visit my page http://a.b", "great video", "I love it",
    "subscribe to my channel", "so good", "win cash", "check this out http://c.d", "nice voice",
    "subscribe please", "best song ever", "my channel has cool stuff, subscribe", "wow", "http://e.f free",
    "amazing", "sub to me", "beautiful", "this is the best", "subscribe and win",
]
GOLD = [1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1]


def sources():
    return [KeywordSource("subscribe", ["subscribe", "sub"], label="spam"),
            RegexSource("link", r"https?://", label="spam")]


@pytest.fixture()
def setup(tmp_path):
    data = from_pandas(pd.DataFrame({"text": TEXTS, "label": GOLD}), TASK, text_column="text",
                       label_column="label", name="toy")
    backend = RuleReader()
    llm = LLMSource(backend, name="llm", calibrate=False, cache=tmp_path / "cache.sqlite", progress=False)
    srcs = sources()
    L = apply_sources(data, srcs, TASK, progress=False)
    out = llm.apply(data, TASK)
    L = L.with_column("llm", out.votes, out.proba)
    # a fixed "harmonizer" output: spam where a rule fired or the text says win/http, with varying confidence
    rng = np.random.default_rng(0)
    p_spam = np.where((L.L[:, :2] >= 0).any(axis=1) | np.array(["win" in t or "http" in t for t in TEXTS]),
                      0.75 + 0.2 * rng.random(len(TEXTS)), 0.05 + 0.2 * rng.random(len(TEXTS)))
    proba = np.column_stack([1 - p_spam, p_spam])
    X = np.column_stack([p_spam, 1 - p_spam, rng.normal(size=len(TEXTS)) * 0.01])
    pool = DemoPool(data, X, proba, L.column("llm"))
    backend.calls = 0
    return dict(data=data, llm=llm, backend=backend, L=L, proba=proba, X=X, pool=pool, sources=srcs,
                cache=tmp_path / "cache.sqlite")


def run(s, strategy, **cfg):
    return correct_answers(s["data"], TASK, s["L"], s["proba"], strategy=strategy, llm=s["llm"],
                           sources=s["sources"], X=s["X"], pool=s["pool"], config=CorrectionConfig(**cfg))


def reader_answer(text: str, fired: list[int], previous: int | None = None) -> int:
    """What RuleReader answers, worked out here from the rules that fired (not from its prompt)."""
    if fired:
        return int(np.bincount(fired, minlength=2).argmax())
    if previous is not None:
        return previous
    return 1 if ("http" in text or "win" in text) else 0


def test_evidence_changes_exactly_the_answers_the_model_now_gives_differently(setup):
    L = setup["L"]
    res = run(setup, "evidence", budget=20)
    expected = np.array([reader_answer(TEXTS[i], [int(v) for v in L.L[i, :2] if v >= 0]) for i in range(20)])
    np.testing.assert_array_equal(res.labels_after, expected)
    changed = np.flatnonzero(res.labels_after != res.labels_before)
    # the re-asked model now follows the "subscribe" rule on the rows it first called ham
    assert changed.tolist() == [5, 10, 12, 16] and (res.labels_after[changed] == 1).all()
    assert all(a.asked_label == expected[a.row] for a in res.audit)
    # a budget of 3 re-asks the 3 riskiest rows only; the others keep the first answer
    few = run(setup, "evidence", budget=3)
    untouched = np.setdiff1d(np.arange(20), few.rows)
    np.testing.assert_array_equal(few.labels_after[untouched], few.labels_before[untouched])
    np.testing.assert_array_equal(few.labels_after[few.rows], expected[few.rows])


def test_verify_alone_keeps_the_answers_a_confirming_model_gives(setup):
    setup["backend"].prompts.clear()
    res = run(setup, "verify", budget=20)
    # RuleReader confirms a shown previous answer: verify alone changes nothing, though 20 rows were asked
    assert res.calls == 20 and np.array_equal(res.labels_after, res.labels_before)
    assert len(setup["backend"].prompts) == 20 and all("Previous answer:" in p for p in setup["backend"].prompts)


@pytest.mark.parametrize("budget, expected", [(7, 7), (0.25, 5), (0.5, 10), (0, 0), (100, 20)])
def test_budget_respected_exactly(setup, budget, expected):
    res = run(setup, "verify", budget=budget)
    assert resolve_budget(budget, 20) == expected
    assert res.rows.shape[0] == expected == res.calls == len(res.audit) == len(res.answers)
    # every re-ask is a distinct prompt here: one backend call each, no more
    assert setup["backend"].calls == expected == res.backend_calls


def test_selection_takes_the_riskiest_first(setup):
    res = run(setup, "evidence", budget=6)
    r = res.risk_before
    chosen = np.zeros(20, bool)
    chosen[res.rows] = True
    assert r[chosen].min() >= r[~chosen].max()
    assert np.all(np.diff(r[res.rows]) <= 0)


def test_threshold_and_top_fraction_cut_the_candidates(setup):
    r = risk_score(setup["proba"], setup["L"].column("llm"))
    t = float(np.sort(r)[-4])                          # exactly 3 rows are above it
    res = run(setup, "verify", budget=10, threshold=t)
    assert res.rows.shape[0] == 3 == res.calls
    res = run(setup, "verify", budget=10, top_fraction=0.1)
    assert res.rows.shape[0] == 2


def test_select_rows_ranks_abstains_first_or_never():
    risk = np.array([0.2, np.nan, 0.9, 0.5])
    assert select_rows(risk, CorrectionConfig(budget=2)).tolist() == [1, 2]
    assert select_rows(risk, CorrectionConfig(budget=2, include_abstains=False)).tolist() == [2, 3]


def test_budget_values_are_checked():
    with pytest.raises(ConfigError):
        CorrectionConfig(budget=1.5)
    with pytest.raises(ConfigError):
        CorrectionConfig(budget=-1)


def test_evidence_fixes_answers_and_audit_trail_is_kept(setup, tmp_path):
    gold = np.array(GOLD)
    res = run(setup, "evidence", budget=10)
    rep = res.report(gold)
    assert rep.slice_n == 10 and rep.calls == 10
    assert rep.llm_error_after < rep.llm_error_before
    assert rep.accuracy_after > rep.accuracy_before
    # the input matrix is untouched; the result's matrix carries the new LLM column
    assert np.array_equal(setup["L"].column("llm"), res.labels_before)
    assert np.array_equal(res.matrix.column("llm"), res.labels_after)
    cache = AnswerCache(setup["cache"])
    for a in res.audit:
        assert a.old_label == res.labels_before[a.row] and a.new_label == res.labels_after[a.row]
        assert a.strategy == "evidence" and a.id == setup["data"].ids[a.row]
        assert a.old_risk == pytest.approx(1 - setup["proba"][a.row, a.old_label])
        assert a.new_risk == pytest.approx(1 - setup["proba"][a.row, a.new_label])   # rescore: same h
        assert a.cache_key in cache                                               # the paid answer is kept
    path = write_audit(res.audit, tmp_path / "audit.csv", TASK)
    frame = pd.read_csv(path, keep_default_na=False)
    assert list(frame.columns[:len(AUDIT_COLUMNS)]) == list(AUDIT_COLUMNS)
    assert len(frame) == 10 and (frame["old_label"] != frame["new_label"]).sum() == rep.changed > 0


def test_warm_cache_rerun_makes_no_backend_call(setup):
    first = run(setup, "verify+evidence+fewshot", budget=8)
    assert setup["backend"].calls > 0
    backend = RuleReader()
    llm = LLMSource(backend, name="llm", calibrate=False, cache=setup["cache"], progress=False)
    again = correct_answers(setup["data"], TASK, setup["L"], setup["proba"], strategy="verify+evidence+fewshot",
                            llm=llm, sources=setup["sources"], X=setup["X"], pool=setup["pool"],
                            config=CorrectionConfig(budget=8))
    assert backend.calls == 0 and again.backend_calls == 0
    assert again.calls == 8 == again.cache_hits                 # cache hits still count as re-asks
    assert np.array_equal(again.labels_after, first.labels_after)
    assert [a.cache_key for a in again.audit] == [a.cache_key for a in first.audit]
    assert all(a.cached for a in again.audit)


def test_calibration_prompts_are_reported_not_budgeted(tmp_path, setup):
    backend = RuleReader()
    llm = LLMSource(backend, name="llm", calibrate=True, cache=tmp_path / "cal.sqlite", progress=False)
    res = correct_answers(setup["data"], TASK, setup["L"], setup["proba"], strategy="fewshot", llm=llm,
                          pool=setup["pool"], config=CorrectionConfig(budget=5))
    assert res.calls == 5
    assert res.prompts == 5 + 3                   # one shared few-shot prefix → 3 content-free prompts
    assert res.backend_calls == backend.calls == 8


def test_harmonizer_strategy_makes_no_call(setup):
    backend = setup["backend"]
    res = run(setup, "harmonizer", budget=6)
    assert backend.calls == 0 and res.calls == 0 and res.backend_calls == 0
    assert np.isnan(res.matrix.probas["llm"][res.rows]).all()
    assert all(a.cache_key == "" for a in res.audit)


def test_risk_order_and_harmonizer_answers_on_a_hand_computed_case():
    # 4 rows; h(x) and the LLM's answers chosen so that the risks 1 - h(x)[answer] are 0.9, 0.4, 0.8, 0.45
    data = from_pandas(pd.DataFrame({"text": ["a", "b", "c", "d"]}), TASK)
    L = apply_sources(data, [], TASK, progress=False).with_column("llm", np.array([1, 0, 0, 1]))
    proba = np.array([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.45, 0.55]])
    res = correct_answers(data, TASK, L, proba, strategy="harmonizer", llm_column="llm",
                          config=CorrectionConfig(budget=3))
    np.testing.assert_allclose(res.risk_before, [0.9, 0.4, 0.8, 0.45])
    assert res.rows.tolist() == [0, 2, 3]                           # riskiest first, row 1 left out
    assert res.labels_after.tolist() == [0, 0, 1, 1]                # argmax h(x) on the chosen rows only
    np.testing.assert_allclose(res.risk_after, [0.1, 0.4, 0.2, 0.45])
    assert [(a.old_label, a.new_label) for a in res.audit] == [(1, 0), (0, 1), (1, 1)]


def test_harmonizer_strategy_needs_no_llm(setup):
    res = correct_answers(setup["data"], TASK, setup["L"], setup["proba"], strategy="harmonizer",
                          llm_column="llm", config=CorrectionConfig(budget=3))
    assert res.calls == 0 and res.rows.shape[0] == 3


def test_a_reask_that_abstains_keeps_the_old_answer(setup, tmp_path):
    backend = RuleReader(abstain_on="Previous answer")
    llm = LLMSource(backend, name="llm", calibrate=False, cache=tmp_path / "abst.sqlite", progress=False)
    res = correct_answers(setup["data"], TASK, setup["L"], setup["proba"], strategy="verify", llm=llm,
                          config=CorrectionConfig(budget=4))
    assert np.array_equal(res.labels_after, res.labels_before)
    assert all(a.asked_label == -1 and a.new_label == a.old_label for a in res.audit)


def test_refit_updates_the_harmonizer(setup):
    s = setup
    h = PolarHarmonizer(2, epochs=30, val_fraction=0.0, seed=0).fit(s["L"].L, s["X"])
    proba = h.predict_proba(None, s["X"])
    fit = FitData(s["L"], s["X"], rows=np.arange(20))
    res = correct_answers(s["data"], TASK, s["L"], proba, strategy="evidence", llm=s["llm"], sources=s["sources"],
                          X=s["X"], config=CorrectionConfig(budget=8, update="refit"), harmonizer=h, fit=fit)
    assert res.harmonizer is not None and res.harmonizer is not h
    expect = res.harmonizer.predict_proba(None, s["X"])
    assert np.allclose(res.proba_after, expect)
    assert np.allclose(res.risk_after, risk_score(expect, res.labels_after), equal_nan=True)
    assert np.allclose(h.predict_proba(None, s["X"]), proba)          # the given harmonizer is untouched
    # appended rows (corrected rows that are not fitting rows) are refitted on too
    res2 = correct_answers(s["data"], TASK, s["L"], proba, strategy="evidence", llm=s["llm"], sources=s["sources"],
                           X=s["X"], config=CorrectionConfig(budget=8, update="refit"), harmonizer=h,
                           fit=FitData(s["L"].rows(np.arange(10)), s["X"][:10]))
    changed = res.labels_after != res.labels_before
    assert changed.any()
    # the refit is the same harmonizer fitted by hand to the corrected votes (fit(L, X) with the new LLM column)
    j = s["L"].names.index("llm")
    L_hand = s["L"].L.copy()
    L_hand[:, j] = res.labels_after
    by_hand = PolarHarmonizer(2, epochs=30, val_fraction=0.0, seed=0).fit(L_hand, s["X"])
    np.testing.assert_allclose(res.proba_after, by_hand.predict_proba(None, s["X"]), atol=1e-6)
    # with 10 fitting rows, the corrected rows are appended to them
    L2 = np.vstack([s["L"].L[:10], res2.matrix.L[res2.rows]])
    X2 = np.vstack([s["X"][:10], s["X"][res2.rows]])
    by_hand2 = PolarHarmonizer(2, epochs=30, val_fraction=0.0, seed=0).fit(L2, X2)
    np.testing.assert_allclose(res2.proba_after, by_hand2.predict_proba(None, s["X"]), atol=1e-6)
    assert not np.allclose(res.proba_after, proba)                    # the refit moved h
    assert not np.allclose(res2.proba_after, res.proba_after)         # other fitting rows, another h


def test_missing_inputs_are_clear_errors(setup):
    s = setup
    with pytest.raises(InputError, match="no LLM source"):
        correct_answers(s["data"], TASK, s["L"], s["proba"], strategy="verify", llm_column="llm")
    with pytest.raises(InputError, match="pool"):
        correct_answers(s["data"], TASK, s["L"], s["proba"], strategy="fewshot", llm=s["llm"])
    with pytest.raises(InputError, match="refit"):
        correct_answers(s["data"], TASK, s["L"], s["proba"], strategy="verify", llm=s["llm"],
                        config=CorrectionConfig(update="refit"))
    with pytest.raises(InputError, match="proba"):
        correct_answers(s["data"], TASK, s["L"], s["proba"][:5], strategy="verify", llm=s["llm"])


def test_report_risk_distribution(setup):
    res = run(setup, "harmonizer", budget=10)
    rep = res.report(np.array(GOLD)).to_dict()
    after = risk_score(setup["proba"], res.labels_after)
    edges = np.linspace(0.0, 1.0, len(rep["risk_hist_after"]) + 1)
    assert rep["risk_hist_after"] == np.histogram(after, bins=edges)[0].tolist()
    assert rep["mean_risk_after"] == pytest.approx(float(after.mean()))
    assert rep["slice_mean_risk_before"] == pytest.approx(float(np.mean(res.risk_before[res.rows])))
    gold = np.array(GOLD)
    assert rep["llm_error_before"] == pytest.approx(float(np.mean(res.labels_before[res.rows] != gold[res.rows])))
    assert rep["accuracy_after"] == pytest.approx(float(np.mean(res.labels_after == gold)))


def test_a_plugin_component_goes_into_the_prompt(setup, monkeypatch):
    from polarlab.correct import CORRECTION_COMPONENTS, CorrectionComponent, parse_strategies
    from polarlab.correct import register_correction_component

    def reviewer(batch):
        def add(r, i, parts):
            parts.evidence += (f"A reviewer says {'ham' if i % 2 else 'spam'}.",)
        return add

    monkeypatch.setitem(CORRECTION_COMPONENTS, "reviewer", None)
    register_correction_component(CorrectionComponent("Reviewer", prepare=reviewer, aliases=("Second-Opinion",)))
    setup["backend"].prompts.clear()
    res = run(setup, "second-opinion", budget=20)
    assert res.strategy == "reviewer" and res.calls == 20
    assert res.labels_after.tolist() == [1 - i % 2 for i in range(20)]     # the model followed the line
    assert len(setup["backend"].prompts) == 20 and all("A reviewer says" in p for p in setup["backend"].prompts)
    assert [s.name for s in parse_strategies("reviewer+evidence,verify")] == ["evidence+reviewer", "verify"]
    with pytest.raises(ConfigError, match="reviewer"):
        parse_strategies("reviewr")


def test_a_plugin_component_that_asks_no_llm(setup, monkeypatch):
    from polarlab.correct import CORRECTION_COMPONENTS, CorrectionComponent, parse_strategies
    from polarlab.correct import register_correction_component

    monkeypatch.setitem(CORRECTION_COMPONENTS, "second", None)
    register_correction_component(CorrectionComponent("second", answer=lambda p: np.asarray(p).argmin(axis=1)))
    res = run(setup, "second", budget=5)
    assert setup["backend"].calls == 0 and res.calls == 0
    np.testing.assert_array_equal(res.labels_after[res.rows], setup["proba"][res.rows].argmin(axis=1))
    with pytest.raises(ConfigError, match="'second' cannot be combined"):
        parse_strategies("second+verify")
    with pytest.raises(TypeError, match="exactly one"):
        CorrectionComponent("both", prepare=lambda b: None, answer=lambda p: p)
