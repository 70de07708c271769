"""Scale: the harmonizer and TF-IDF fit on a bounded subsample of the fit rows (stratified by vote pattern for h),
and every row is still predicted, in row blocks."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab import load_project
from polarlab.engine.local import predict_in_blocks
from polarlab.errors import ConfigError
from polarlab.features.tfidf import TfidfFeatures
from polarlab.matrix.subsample import stratified_rows
from polarlab.pipeline import run


def votes(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    L = rng.choice([-1, 0, 1], p=[0.7, 0.15, 0.15], size=(n, 4))
    L[:3] = [1, 1, 1, 1]                       # a rare pattern: 3 rows of 2,000
    return L


def test_subsample_is_none_up_to_the_cap_and_bounded_above_it() -> None:
    L = votes(2_000)
    assert stratified_rows(L, 2_000) is None and stratified_rows(L, None) is None
    rows = stratified_rows(L, 300, seed=1)
    assert len(rows) == 300 and len(np.unique(rows)) == 300 and (np.diff(rows) > 0).all()
    assert (rows == stratified_rows(L, 300, seed=1)).all()
    assert not (rows == stratified_rows(L, 300, seed=2)).all()
    # every vote pattern keeps a row, the common patterns keep their share, and the most common one gives back
    # the rows the rare patterns' minimum of one took
    full, sub = np.unique(L, axis=0, return_counts=True), np.unique(L[rows], axis=0, return_counts=True)
    assert len(full[0]) == len(sub[0])
    top = np.argmax(full[1])
    common = (full[1] >= 100) & (np.arange(len(full[1])) != top)
    np.testing.assert_allclose(sub[1][common] / 300, full[1][common] / 2_000, atol=0.01)
    assert sub[1][top] < round(300 * full[1][top] / 2_000)
    # more patterns than rows: still exactly the cap
    assert len(stratified_rows(L, 20)) == 20
    with pytest.raises(ConfigError, match="max_fit_rows"):
        stratified_rows(L, 0)


def test_tfidf_fits_on_a_subsample_and_transforms_every_row_in_blocks() -> None:
    rng = np.random.default_rng(0)
    words = np.array(["free", "gift", "song", "love", "great", "card", "check", "video", "nice", "win"])
    texts = [" ".join(rng.choice(words, size=6)) for _ in range(500)]
    whole = TfidfFeatures(n_components=5).fit(texts)
    capped = TfidfFeatures(n_components=5, max_fit_rows=100, block_rows=64).fit(texts)
    X = capped.transform(texts)
    assert X.shape == (500, 5) and X.dtype == np.float32
    assert not np.allclose(X, whole.transform(texts))           # fitted on other rows
    one_block = TfidfFeatures(n_components=5, max_fit_rows=100).fit(texts).transform(texts)
    np.testing.assert_allclose(X, one_block, atol=1e-6)          # blocks change nothing
    np.testing.assert_array_equal(TfidfFeatures(n_components=5, max_fit_rows=500).fit(texts).transform(texts),
                                  whole.transform(texts))        # at the cap: every row, as before


def test_predict_in_blocks_equals_one_call() -> None:
    class Model:
        def predict_proba(self, L, X, exclude=()):
            return np.column_stack([X.sum(axis=1), L[:, 0] - len(exclude)])

    L, X = votes(1_000), np.random.default_rng(1).normal(size=(1_000, 3))
    np.testing.assert_array_equal(predict_in_blocks(Model(), L, X, block_rows=128, exclude=[1]),
                                  Model().predict_proba(L, X, exclude=[1]))


def _project(folder: Path, rows: int, cap: int | None) -> Path:
    folder.mkdir()
    rng = np.random.default_rng(0)
    spam = ["free gift card", "win a prize now", "check out my channel", "subscribe for free"]
    ham = ["great song", "love this video", "nice voice", "this song is great"]
    y = rng.integers(0, 2, size=rows)
    texts = [f"{rng.choice(spam if c else ham)} {rng.choice(['lol', 'wow', 'yes', 'ok'])} {i % 17}"
             for i, c in enumerate(y)]
    pd.DataFrame({"text": texts, "label": y}).to_csv(folder / "data.csv", index=False)
    cap_line = f"max_fit_rows = {cap}\n" if cap else ""
    (folder / "polarlab.toml").write_text(f"""
[task]
name = "scale"
labels = ["ham", "spam"]

[data]
path = "data.csv"
text_column = "text"
label_column = "label"

[[sources]]
type = "keyword"
name = "kw_spam"
keywords = ["free", "win", "subscribe"]
label = "spam"

[[sources]]
type = "keyword"
name = "kw_ham"
keywords = ["song", "love"]
label = "ham"

[labelmodel]
methods = ["mv", "polar"]
final = "polar"

[harmonizer]
features = "tfidf"
n_components = 8
{cap_line}""")
    return folder / "polarlab.toml"


def test_project_above_the_cap_fits_on_the_subsample_and_labels_every_row(tmp_path: Path) -> None:
    capped = run(load_project(_project(tmp_path / "capped", 1_500, 500)), progress=False)
    report = next(r for r in capped.stages if r.name == "harmonizer").report["fit_rows"]
    assert report == {"used": 500, "of": 1_500, "max_fit_rows": 500, "stratified_by": "vote pattern", "seed": 0}
    P = capped.probas["polar"]["train"]
    assert P.shape == (1_500, 2) and np.allclose(P.sum(axis=1), 1)
    whole = run(load_project(_project(tmp_path / "whole", 1_500, None)), progress=False)
    assert next(r for r in whole.stages if r.name == "harmonizer").report["fit_rows"]["used"] == 1_500
    Q = whole.probas["polar"]["train"]
    # a fit on a third of the rows labels (almost) like the fit on all of them
    assert (P.argmax(axis=1) == Q.argmax(axis=1)).mean() >= 0.95
