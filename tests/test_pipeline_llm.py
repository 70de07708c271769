"""The whole job with the embedded LLM: sources + Gemma → POLAR → risk → correction → outputs, twice.

Real parts throughout: llama.cpp runs Gemma 3 270M, the cache is a SQLite file, the harmonizer is
fitted; TF-IDF features keep it quick. The second run must answer everything from the cache.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("llama_cpp", reason='needs pip install "polarlab[local]"')

from polarlab.pipeline import run  # noqa: E402
from polarlab.project import load_project  # noqa: E402

pytestmark = pytest.mark.slow

HAM = ["I love this song so much", "great video, watching in 2015", "this is my favourite song ever",
       "she has an amazing voice", "the dance in this video is funny", "best music video on youtube",
       "this song reminds me of summer", "wow the views on this video", "such a beautiful melody",
       "I come back to this song every week"]
SPAM = ["subscribe to my channel please", "check out my new video http://spam.example",
        "free gift cards at www.example.com", "please sub to me, I sub back", "visit my page for free money",
        "check out my channel for cool vids", "earn money online click here", "follow me and subscribe",
        "free iphone giveaway at my channel", "please like and subscribe to my music"]

PROJECT = """
[task]
name = "tiny_spam"
labels = ["ham", "spam"]
instruction = "Decide whether this YouTube comment is spam (self-promotion, links, requests to subscribe) or ham."

[data]
label_column = "label"
[data.splits]
train = "train.csv"
test = "test.csv"

[[sources]]
type = "keyword"
name = "kw_subscribe"
keywords = ["subscribe", "sub", "channel"]
label = "spam"

[[sources]]
type = "regex"
name = "rx_link"
pattern = "https?://|www\\\\."
label = "spam"

[[sources]]
type = "keyword"
name = "kw_song"
keywords = ["song", "video", "voice", "music video"]
label = "ham"

[[sources]]
type = "llm"
name = "gemma"
backend = "local"
progress = false

[labelmodel]
methods = ["mv", "polar"]
final = "polar"

[harmonizer]
features = "tfidf"
n_components = 8
val_fraction = 0.0
epochs = 30

[correct]
strategy = "verify"
budget = 2
"""


def make_project(tmp: Path) -> Path:
    rows = [(t, "ham") for t in HAM] + [(t, "spam") for t in SPAM]
    frame = pd.DataFrame(rows, columns=["text", "label"])
    frame.iloc[::3].to_csv(tmp / "test.csv", index=False)
    frame.drop(frame.index[::3]).to_csv(tmp / "train.csv", index=False)
    (tmp / "polarlab.toml").write_text(PROJECT, encoding="utf-8")
    return tmp / "polarlab.toml"


def test_run_with_llm_polar_risk_and_correction(tmp_path: Path) -> None:
    project = load_project(make_project(tmp_path))
    result = run(project, progress=False)

    # the LLM is a column of the matrix, with a distribution
    for split, lm in result.matrices.items():
        assert "gemma" in lm.names and lm.probas["gemma"].shape == (len(result.splits[split]), 2)

    # risk of each (corrected) LLM answer = 1 - q[answer], q = the final distribution with the LLM's own vote
    # left out (stored by the correct stage after re-scoring the corrected votes; = h(x) when h alone is used)
    from polarlab.state import ProjectState

    state = ProjectState(project.state_dir, readonly=True)
    labels = pd.read_csv(result.outputs["labels"], keep_default_na=False)
    for split, lm in result.matrices.items():
        sub = labels[labels["split"] == split]
        h = state.distribution("polar@correct-without:gemma", split)
        h = result.probas["polar"][split] if h is None else h
        votes = lm.column("gemma")
        expected = np.where(votes >= 0, 1 - h[np.arange(len(votes)), np.maximum(votes, 0)], np.nan)
        got = pd.to_numeric(sub["risk_gemma"], errors="coerce").to_numpy()
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-9)

    # correction: exactly the budget of re-asks per split, audited
    corr = result.extra["report"]["correction"]["gemma"]
    assert set(corr) == {"train", "test"} and all(d["calls"] == 2 for d in corr.values())
    audit = pd.read_csv(result.outputs["corrections"])
    assert len(audit) == 4 and set(audit["source"]) == {"gemma_train", "gemma_test"}

    metrics = json.loads(Path(result.outputs["metrics"]).read_text(encoding="utf-8"))
    assert metrics["llm"]["gemma"]["calls"] > 0
    assert set(metrics["risk"]["gemma"]) == {"train", "test"}

    # the second run is free: the unchanged stages are skipped, the LLM is not even asked
    again = run(load_project(tmp_path / "polarlab.toml"), progress=False)
    stats = json.loads(Path(again.outputs["metrics"]).read_text(encoding="utf-8"))["llm"]["gemma"]
    assert stats["calls"] == 0 and stats["cache_hits"] == 0
    assert {r.name: r.action for r in again.stages}["sources"] == "skipped"
    assert {r.name: r.action for r in again.stages}["correct"] == "skipped"
    assert again.extra["report"]["correction"] == result.extra["report"]["correction"]   # read from the state
    for split in ("train", "test"):
        np.testing.assert_array_equal(again.matrices[split].L, result.matrices[split].L)
    # the report shows what the cached re-run asked (nothing) and what the project has spent over its runs
    from polarlab.report.collect import project_report_data

    rd = project_report_data(load_project(tmp_path / "polarlab.toml"))
    assert rd.llm["gemma"]["calls"] == 0
    assert rd.llm_total["gemma"]["calls"] == metrics["llm"]["gemma"]["calls"] > 0


def test_refit_after_correction_fits_h_on_the_corrected_votes(tmp_path: Path) -> None:
    from polarlab.harmonizer import PolarHarmonizer
    from polarlab.pipeline import featurize

    path = make_project(tmp_path)
    path.write_text(PROJECT.replace('strategy = "verify"\nbudget = 2',
                                    'strategy = "harmonizer"\nbudget = 3\nupdate = "refit"'), encoding="utf-8")
    result = run(load_project(path), progress=False)
    audit = pd.read_csv(result.outputs["corrections"])
    assert set(audit["source"]) == {"gemma_train", "gemma_test"} and len(audit) == 6

    # the final h = a harmonizer fitted on the corrected train votes + the re-asked test rows
    X = featurize(result.splits, "train", "tfidf", tmp_path / "cache", {"n_components": 8})
    test_rows = audit.loc[audit["source"] == "gemma_test", "row"].to_numpy()
    L = np.vstack([result.matrices["train"].L, result.matrices["test"].L[test_rows]])
    Xf = np.vstack([X["train"], X["test"][test_rows]])
    gemma = result.matrices["train"].names.index("gemma")
    h = PolarHarmonizer(2, val_fraction=0.0, epochs=30, tune_sources=[gemma]).fit(L, Xf)
    for split in ("train", "test"):     # the final output: h combined with the (corrected) votes of each row
        np.testing.assert_allclose(result.probas["polar"][split],
                                   h.predict_proba(result.matrices[split].L, X[split]), atol=1e-6)
    # and the risk columns come from the refitted h, the LLM's own vote left out
    labels = pd.read_csv(result.outputs["labels"], keep_default_na=False)
    sub = labels[labels["split"] == "test"]
    votes = result.matrices["test"].column("gemma")
    P = h.predict_proba(result.matrices["test"].L, X["test"], exclude=[gemma])
    np.testing.assert_allclose(pd.to_numeric(sub["risk_gemma"]).to_numpy(), 1 - P[np.arange(len(votes)), votes],
                               rtol=1e-6, atol=1e-9)
