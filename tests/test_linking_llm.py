"""The LLM linker: a multiple choice among the other linkers' top candidates, scored by the probability of
each option's number; cached answers; its column in the harmonizer and the risk of its links."""
from __future__ import annotations

import re

import json

import numpy as np
import pytest

from polarlab.errors import ConfigError
from polarlab.linking import MentionSet
from polarlab.linking.config import linking_project_from_dict
from polarlab.linking.linkers import ExactLinker, LLMLinker, Ranking, SparseLinker
from polarlab.linking.linkers.llm import fuse_candidates
from polarlab.llm.backend import BackendReply
from polarlab.ontology import load_ontology

from test_linking import OBO, corpus  # noqa: F401  (the tiny ontology and corpus fixture)


class FakeBackend:
    """Scores the option whose line holds ``prefer`` highest (else option 1); records its prompts."""

    model_id = "fake#1"
    max_concurrency = 1
    max_prompt_tokens = None

    def __init__(self, prefer: str = "carcinoma", fail_on: str | None = None) -> None:
        self.prefer, self.fail_on, self.prompts = prefer, fail_on, []

    def params(self, mode: str) -> dict:
        return {"backend": "fake", "mode": mode}

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def score(self, prompt, words):
        from polarlab.llm.errors import LLMError

        self.prompts.append((prompt, words))
        if self.fail_on and self.fail_on in prompt.suffix:
            raise LLMError("server went away")
        lines = [ln for ln in prompt.suffix.splitlines() if ln[:1].isdigit()]
        s = np.array([3.0 if self.prefer in ln.lower() else 0.0 for ln in lines]) + np.linspace(0.2, 0, len(lines))
        d = np.exp(s) / np.exp(s).sum()
        return BackendReply(text=words[int(np.argmax(d))], dist=d)

    def generate(self, prompt):  # pragma: no cover - the linker only scores
        raise AssertionError("the LLM linker scores, it does not generate")


def _setup(tmp_path, texts=("Breast carcinomas", "colon cancers", "mucoviscidosis")):
    (tmp_path / "tiny.obo").write_text(OBO, encoding="utf-8")
    onto = load_ontology(tmp_path / "tiny.obo")
    doc = "We studied " + ", ".join(texts) + " in children."
    starts = [doc.index(t) for t in texts]
    ms = MentionSet(["d"] * len(texts), np.array(starts), np.array([s + len(t) for s, t in zip(starts, texts)]),
                    list(texts), [], None, {"d": doc})
    sources = {"exact": ExactLinker().fit(onto), "sparse": SparseLinker().fit(onto)}
    return onto, ms, sources


def test_fused_candidates_are_the_union_in_a_deterministic_order():
    a = Ranking(np.array([[3, 1, -1]]), np.array([[1.0, 0.5, np.nan]]))
    b = Ranking(np.array([[1, 4, 2]]), np.array([[0.9, 0.8, 0.7]]))
    assert fuse_candidates([a, b], 3).tolist() == [[1, 3, 4]]      # 1 twice; 3 and 4 tie on rank 1 -> by position
    assert fuse_candidates([a, b], 5).tolist() == [[1, 3, 4, 2, -1]]
    assert fuse_candidates([b, a], 5).tolist() == fuse_candidates([a, b], 5).tolist()


def test_prompt_options_ranking_scores_and_cache_with_a_mocked_backend(tmp_path):
    onto, ms, sources = _setup(tmp_path)
    be = FakeBackend(prefer="carcinoma")
    lk = LLMLinker(be, onto, sources, n_candidates=4, cache=tmp_path / "c.sqlite")
    cand, prob = lk.choose(ms)
    assert cand.shape == (3, 4) and lk.stats["calls"] == len(be.prompts) == 3
    prompt, words = be.prompts[0]
    assert prompt.prefix.startswith("Which term") and "Answer with the number" in prompt.prefix
    assert "[M] Breast carcinomas [/M]" in prompt.suffix and prompt.suffix.endswith("Answer:")
    names = [onto.names(onto.ids[e])[0] for e in cand[0] if e >= 0]
    for j, name in enumerate(names):
        assert f"\n{j + 1}. {name}\n" in prompt.suffix + "\n"
    assert words == tuple(str(j + 1) for j in range(len(names)))
    r = lk.rank(ms, 3)
    assert onto.ids[r.top1[0]] == "DOID:2"                       # the option naming "... carcinoma" is chosen
    assert np.all(np.diff(r.scores[0][np.isfinite(r.scores[0])]) <= 0)
    sc = lk.score(ms, np.array([[r.top1[0], -1], [r.top1[1], cand[1, 0]], [10**6, r.top1[2]]]))
    assert sc[0, 0] == pytest.approx(r.scores[0, 0]) and np.isnan(sc[0, 1]) and sc[2, 0] == 0.0
    assert np.allclose(np.nansum(prob, axis=1), 1.0)
    again = LLMLinker(FakeBackend(prefer="zzz"), onto, sources, n_candidates=4, cache=tmp_path / "c.sqlite")
    assert again.rank(ms, 3).top1.tolist() == r.top1.tolist() and again.stats["calls"] == 0
    assert again.stats["cached"] == 3


def test_position_debiasing_removes_a_prior_that_ignores_the_content(tmp_path):
    onto, ms, sources = _setup(tmp_path)
    be = FakeBackend(prefer="no such name")                       # the same distribution whatever the options
    lk = LLMLinker(be, onto, sources, n_candidates=4, debias="position")
    cand, raw = lk.choose(ms)
    assert (np.argmax(raw, axis=1) == 0).all()                    # the raw answer: always the first option
    _, d = lk.distribution(ms)
    assert np.allclose(d, 0.25)                                   # prior removed: nothing left to choose by
    lk.debias = "none"
    assert np.allclose(lk.distribution(ms)[1], raw) and be.prompts and len(be.prompts) == 3   # no new call
    with pytest.raises(ValueError, match="debias"):
        LLMLinker(be, onto, sources, debias="cyclic")


def test_one_option_needs_no_call_and_a_failed_call_abstains(tmp_path):
    onto, ms, sources = _setup(tmp_path, texts=("Breast carcinomas", "neoplasms"))   # a name; no name
    be = FakeBackend(fail_on="[M] neoplasms")
    lk = LLMLinker(be, onto, {"exact": sources["exact"]}, n_candidates=3)   # exact: one option or none
    r = lk.rank(ms, 2)
    assert lk.stats["calls"] == 0 and lk.stats["single"] == 1 and r.top1[0] >= 0 and r.top1[1] == -1
    lk2 = LLMLinker(be, onto, sources, n_candidates=3)
    r2 = lk2.rank(ms, 2)
    assert lk2.stats["errors"] == 1 and r2.top1[1] == -1 and r2.top1[0] >= 0
    with pytest.raises(ValueError, match="n_candidates"):
        LLMLinker(be, onto, sources, n_candidates=12)


def test_llm_link_risk_reads_the_distribution_without_the_llm_column():
    from polarlab.linking.harmonize import CandidateSlots, HarmonizedLinks
    from polarlab.linking.pipeline import llm_link_risk

    slots = CandidateSlots(np.array([[5, 7, -1], [2, 3, 4]]), np.zeros((2, 1), int), np.zeros((2, 3)), ["x"])
    proba = np.array([[0.8, 0.2, 0.0], [0.1, 0.6, 0.3]])
    harm = HarmonizedLinks(proba, Ranking(slots.entities, proba), proba.max(1), 1 - proba.max(1))
    assert llm_link_risk(harm, slots, np.array([7, 9])).tolist() == pytest.approx([0.8, 1.0])
    assert llm_link_risk(harm, slots, np.array([-1, 3])).tolist() == pytest.approx([1.0, 0.4])


def test_bad_llm_config_is_one_clear_error_before_any_work(corpus, tmp_path):  # noqa: F811
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    good = {"task": {"kind": "linking"}, "ontology": {"paths": ["o"]}, "linking": {"corpus": ["c.txt"]}}
    assert not linking_project_from_dict(good).linking.llm.on
    on = linking_project_from_dict({**good, "linking": {"corpus": ["c"], "llm": {"backend": "local"}}})
    assert on.linking.llm.on and on.linking.llm.candidates == 5
    for llm, match in (({"backend": "lokal"}, "unknown LLM backend"), ({"backend": "local", "options": {"gguff": "x"}},
                       "gguff"), ({"options": {"gguf": "m.gguf"}}, "backend = \"none\""),
                       ({"backend": "local", "candidates": 12}, "candidates")):
        with pytest.raises(ConfigError, match=match) as e:
            linking_project_from_dict({**good, "linking": {"corpus": ["c"], "llm": llm}}, "p.toml")
        assert "linking.llm" in str(e.value)
    res = CliRunner().invoke(app, ["bench", "linking", "--corpus", str(corpus / "corpus"), "--ontology",
                                   str(corpus / "onto"), "--llm", "lokal", "--state-dir", str(tmp_path / "st")])
    assert res.exit_code != 0 and "lokal" in res.output and "linking.llm" in res.output
    assert not (tmp_path / "st").exists()                      # stopped before any work
    from polarlab.linking.bench import bench_run

    with pytest.raises(ConfigError, match="no GGUF"):           # a missing model file: before self-supervision
        bench_run(corpus / "corpus", corpus / "onto", options={"llm": {"backend": "local",
                                                                       "options": {"gguf": str(tmp_path / "no.gguf")}}},
                  state_dir=tmp_path / "st2", ablations=False)


def test_an_unreachable_llm_server_stops_the_linking_before_any_slow_work(corpus, tmp_path, monkeypatch, dead_port):  # noqa: F811
    """A wrong base_url fails in the probe, with the key, not minutes later after the contrastive training."""
    import polarlab.linking.pipeline as pipeline
    from polarlab.linking.bench import bench_run
    from polarlab.llm.errors import LLMUnreachableError

    port = dead_port

    def no_slow_work(*a, **k):
        raise AssertionError("the linking job started before the LLM server was checked")

    monkeypatch.setattr(pipeline, "_run", no_slow_work)
    llm = {"backend": "openai", "options": {"model": "m", "base_url": f"http://127.0.0.1:{port}/v1"}}
    with pytest.raises(LLMUnreachableError) as e:
        bench_run(corpus / "corpus", corpus / "onto", options={"llm": llm}, state_dir=tmp_path / "st", ablations=False)
    assert isinstance(e.value, ConfigError) and e.value.column == "linking.llm.options.base_url"
    assert f"127.0.0.1:{port}" in str(e.value) and "base_url" in e.value.fix


def test_llm_votes_in_the_pipeline_and_its_links_get_a_risk(corpus, tmp_path, monkeypatch):  # noqa: F811
    from polarlab.linking.bench import bench_linking
    from polarlab.llm.backends import LLM_BACKENDS, BackendSettings, register_llm_backend

    class FakeSettings(BackendSettings):
        prefer: str = "carcinoma"

    monkeypatch.setattr("polarlab.llm.backends.LLM_BACKENDS", dict(LLM_BACKENDS))   # registered for this test only
    register_llm_backend("fake_linking", FakeSettings, lambda cfg: FakeBackend(cfg.prefer))
    opts = {"linkers": ["exact", "sparse"], "llm": {"backend": "fake_linking", "options": {"prefer": "cancer"}}}
    out = bench_linking(corpus / "corpus", corpus / "onto", state_dir=tmp_path / "st", ablations=False, options=opts)
    assert set(out["linkers"]) == {"exact", "sparse", "llm"}
    h = out["harmonized"]
    for key in ("llm_risk_ece", "llm_risk_auroc", "llm_risk_ece_floor", "llm_risk_mappable_ece"):
        assert key in h
    assert 0 <= h["llm_risk_mean"] <= 1
    assert {"acc1_mappable", "acc1_all"} <= set(h["harmonized_without_llm"])
    assert out["llm"]["test"]["calls"] >= 1 and out["llm"]["pseudo_dev"]["calls"] >= 1
    assert out["llm"]["debias"] in ("none", "position") and set(out["llm"]["pseudo_dev_acc_by_debias"]) == {
        "none", "position"}                                       # auto: chosen on the pseudo-dev set
    assert 0 <= out["llm"]["test"]["first_option_share_raw"] <= 1
    again = bench_linking(corpus / "corpus", corpus / "onto", state_dir=tmp_path / "st", ablations=False, options=opts)
    assert again["llm"]["test"]["calls"] == 0 and again["llm"]["pseudo_dev"]["calls"] == 0
    assert again["linkers"]["llm"] == out["linkers"]["llm"]
    json.dumps(out["llm"])


@pytest.mark.slow
def test_llm_linker_with_the_real_embedded_model(tmp_path):
    pytest.importorskip("llama_cpp")
    from polarlab.llm.local import LlamaCppBackend

    onto, ms, sources = _setup(tmp_path, texts=("Breast carcinomas", "colon cancers", "mucoviscidosis",
                                                "Louis Bar syndrome"))
    be = LlamaCppBackend(n_ctx=1024, processes=1)
    cache = tmp_path / "llm_cache.sqlite"
    lk = LLMLinker(be, onto, sources, n_candidates=3, cache=cache)
    cand, prob = lk.choose(ms)
    asked = int(((cand >= 0).sum(axis=1) >= 2).sum())
    assert asked >= 1 and lk.stats["calls"] == asked and lk.stats["errors"] == 0 and lk.stats["seconds"] > 0
    for i in range(len(ms)):
        k = int((cand[i] >= 0).sum())
        assert np.isfinite(prob[i, :k]).all() and prob[i, :k].sum() == pytest.approx(1.0)
    r = lk.rank(ms, 3)
    assert all(r.top1[i] in cand[i] for i in range(len(ms)))
    again = LLMLinker(be, onto, sources, n_candidates=3, cache=cache)
    r2 = again.rank(ms, 3)
    assert again.stats["calls"] == 0 and again.stats["cached"] == asked
    assert r2.entities.tolist() == r.entities.tolist() and np.allclose(r2.scores, r.scores, equal_nan=True)


def test_a_rerun_whose_llm_answers_are_all_cached_needs_no_server(corpus, tmp_path, dead_port):  # noqa: F811
    """A first run through a real HTTP server fills the SQLite answer cache. With the server gone (its port now
    refuses connections), the same run reads every answer from the cache, says so in a warning and gives the same
    links; with one answer lost from the cache it stops at that prompt with the probe's error, which says why."""
    import sqlite3
    import sys
    from pathlib import Path

    from polarlab.linking.bench import bench_linking
    from polarlab.llm.errors import LLMUnreachableError

    sys.path.insert(0, str(Path(__file__).resolve().parent / "llm"))
    from llm_fake_server import FakeServer

    llm = {"backend": "openai", "options": {"model": "fake-model", "base_url": f"http://127.0.0.1:{dead_port}/v1"}}
    opts = {"linkers": ["exact", "sparse"], "llm": llm}
    state = tmp_path / "st"
    server = FakeServer().start(port=dead_port)
    try:
        out = bench_linking(corpus / "corpus", corpus / "onto", state_dir=state, ablations=False, options=opts)
    finally:
        server.stop()
    asked = out["llm"]["test"]["calls"] + out["llm"]["pseudo_dev"]["calls"]
    assert out["llm"]["test"]["calls"] >= 1 and sum(server.served.values()) == asked
    assert out["llm"]["test"]["errors"] == out["llm"]["pseudo_dev"]["errors"] == 0
    with pytest.warns(UserWarning, match=rf"going on with the {asked} answer\(s\) of model 'fake-model'"):
        again = bench_linking(corpus / "corpus", corpus / "onto", state_dir=state, ablations=False, options=opts)
    assert again["llm"]["test"]["calls"] == again["llm"]["pseudo_dev"]["calls"] == 0
    assert again["llm"]["test"]["cached"] == out["llm"]["test"]["calls"]
    assert again["linkers"]["llm"] == out["linkers"]["llm"] and again["harmonized"]["acc1_all"] == out["harmonized"][
        "acc1_all"]
    db = sqlite3.connect(state / "llm_cache.sqlite")
    with db:
        db.execute("DELETE FROM answers WHERE rowid = (SELECT MAX(rowid) FROM answers)")
    db.close()
    with pytest.raises(LLMUnreachableError) as e, pytest.warns(UserWarning, match="going on"):
        bench_linking(corpus / "corpus", corpus / "onto", state_dir=state, ablations=False, options=opts)
    assert e.value.column == "linking.llm.options.base_url" and f"127.0.0.1:{dead_port}" in str(e.value)
    # the options come after training: checked then, before the linker's first call, with the count and the fix
    assert re.match(r"1 of \d+ prompt\(s\) of the LLM linker \(\[linking.llm\]\) over \d+ mention\(s\) have no "
                    r"answer of model 'fake-model' in the answer cache", e.value.message), e.value.message
    assert 'set [linking.llm] backend = "none"' in e.value.fix
