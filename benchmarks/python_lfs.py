"""Python labeling functions: polarlab's one-pass applier (1 process and all CPUs) vs Snorkel's PandasLFApplier.

The Snorkel spam tutorial's seven Python labeling functions (keywords, a regex, short comments, TextBlob
polarity through a memoised preprocessor) written as Snorkel LFs, applied unchanged to the
tutorial's comments repeated to ``--rows`` rows, by Snorkel's ``PandasLFApplier`` and by polarlab's
``apply_sources`` in the same process. The label matrices must be identical. Last line: one JSON object with
``rows``, ``lfs``, ``snorkel_s``, ``polarlab_s``, ``polarlab_parallel_s``, ``workers``, ``ratio``
(polarlab / Snorkel, 1 process) and ``ratio_parallel``.

    python benchmarks/python_lfs.py [--rows 15860]
"""
from __future__ import annotations

import argparse
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spam"
ABSTAIN, HAM, SPAM = -1, 0, 1


def tutorial_lfs():
    """The spam tutorial's LFs (snorkel-tutorials, spam/01_spam_tutorial), as Snorkel LFs."""
    from snorkel.labeling import LabelingFunction, labeling_function
    from snorkel.preprocess import preprocessor
    from textblob import TextBlob

    def keyword_lookup(x, keywords, label):
        return label if any(word in x.text.lower() for word in keywords) else ABSTAIN

    def make_keyword_lf(keywords, label=SPAM):
        return LabelingFunction(name=f"keyword_{keywords[0]}", f=keyword_lookup,
                                resources=dict(keywords=keywords, label=label))

    @labeling_function()
    def regex_check_out(x):
        return SPAM if re.search(r"check.*out", x.text, flags=re.I) else ABSTAIN

    @labeling_function()
    def short_comment(x):
        return HAM if len(x.text.split()) < 5 else ABSTAIN

    @preprocessor(memoize=True)
    def textblob_sentiment(x):
        scores = TextBlob(x.text)
        x.polarity, x.subjectivity = scores.sentiment.polarity, scores.sentiment.subjectivity
        return x

    @labeling_function(pre=[textblob_sentiment])
    def textblob_polarity(x):
        return HAM if x.polarity > 0.9 else ABSTAIN

    return [make_keyword_lf(["my", "channel"]), make_keyword_lf(["subscribe"]),
            make_keyword_lf(["http"]), make_keyword_lf(["please", "plz"]), regex_check_out, short_comment,
            textblob_polarity]


def load(rows: int) -> pd.DataFrame:
    frames = [pd.read_csv(f) for f in sorted(DATA.glob("Youtube0*.csv"))]
    df = pd.concat(frames, ignore_index=True).rename(columns={"CONTENT": "text", "CLASS": "label"})
    df = pd.concat([df] * (rows // len(df) + 1), ignore_index=True).head(rows)
    # distinct texts per copy, so the memoised preprocessor cannot serve a repeat from its cache
    df["text"] = [f"{t} #{i // 1956}" for i, t in enumerate(df["text"])]
    return df[["text", "label"]]


def main(argv: list[str] | None = None) -> dict:
    from snorkel.labeling import PandasLFApplier

    from polarlab.data import from_pandas
    from polarlab.matrix import apply_sources
    from polarlab.matrix.rowwise import default_workers
    from polarlab.sources import from_snorkel
    from polarlab.task import Task

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=15_860)
    args = ap.parse_args(argv)
    df = load(args.rows)
    task = Task(labels=("ham", "spam"), name="spam")
    ds = from_pandas(df, task, text_column="text")

    t = time.perf_counter()
    L_snorkel = PandasLFApplier(tutorial_lfs()).apply(ds.frame, progress_bar=False)
    snorkel_s = time.perf_counter() - t
    t = time.perf_counter()
    L_one = apply_sources(ds, from_snorkel(tutorial_lfs()), task, progress=False, workers=1).L
    one_s = time.perf_counter() - t
    workers = default_workers()
    t = time.perf_counter()
    L_par = apply_sources(ds, from_snorkel(tutorial_lfs()), task, progress=False, workers=workers).L
    par_s = time.perf_counter() - t
    if not (np.array_equal(L_snorkel, L_one) and np.array_equal(L_one, L_par)):
        raise SystemExit("label matrices differ between Snorkel and polarlab")
    res = {"rows": args.rows, "lfs": L_one.shape[1], "snorkel_s": round(snorkel_s, 3), "polarlab_s": round(one_s, 3),
           "polarlab_parallel_s": round(par_s, 3), "workers": workers, "ratio": round(one_s / snorkel_s, 3),
           "ratio_parallel": round(par_s / snorkel_s, 3), "identical": True}
    print(f"Snorkel PandasLFApplier {snorkel_s:.2f}s; polarlab 1 process {one_s:.2f}s; "
          f"polarlab {workers} processes {par_s:.2f}s ({args.rows:,} rows x {L_one.shape[1]} LFs)")
    print(dumps(res))
    return res


if __name__ == "__main__":
    main()
