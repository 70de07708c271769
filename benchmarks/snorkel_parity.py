"""The Snorkel spam tutorial's slicing and augmentation sections, run through Snorkel and through polarlab in the
same process, on the tutorial's data (../shared/data/spam) and split.

Slicing: the tutorial's ``short_comment`` and ``textblob_polarity`` slices (TextBlob's sentiment ships with the
package, no download) and a bag-of-words logistic regression trained on the training videos' gold labels, scored per
slice by Snorkel's ``Scorer.score_slices`` and by ``polarlab.slicing.slice_report``. Augmentation: the tutorial's
WordNet/spaCy functions need downloads, so three functions that need none (drop a word, swap two words, upper-case a
word), applied with the tutorial's ``MeanFieldPolicy`` by Snorkel's ``PandasTFApplier`` and by
``polarlab.augment.augment`` from the same seed; then the end model is trained with and without the augmented rows.

Prints a table and, on its last line, one JSON object:
``{"slices": {name: {"snorkel_f1": ..., "polarlab_f1": ..., "n": ...}}, "slices_equal": bool,
"augmented_rows": n, "augmented_equal": bool, "acc_plain": ..., "acc_augmented": ...}``.

    python benchmarks/snorkel_parity.py [--data ../shared/data/spam]
"""
from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import pandas as pd

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "spam"


def load_spam(data_dir: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The tutorial's ``load_spam_dataset``: videos 1-4 train (each shuffled with seed 123); 250 stratified test rows
    of video 5 (seed 123)."""
    from sklearn.model_selection import train_test_split

    frames = []
    for i, f in enumerate(sorted(data_dir.glob("Youtube0*.csv")), start=1):
        df = pd.read_csv(f)
        df.columns = [c.lower() for c in df.columns]
        df = df.drop(columns="comment_id").rename(columns={"class": "label", "content": "text"})
        df["video"] = i
        df = df.sample(frac=1, random_state=123).reset_index(drop=True)
        df.insert(0, "id", [f"v{i}_{j}" for j in range(len(df))])   # the raw comment ids repeat
        frames.append(df)
    train = pd.concat(frames[:4], ignore_index=True)
    _, test = train_test_split(frames[4], test_size=250, random_state=123, stratify=frames[4].label)
    return train.reset_index(drop=True), test.reset_index(drop=True)


def snorkel_slices():
    from snorkel.preprocess import preprocessor
    from snorkel.slicing import slicing_function
    from textblob import TextBlob

    @slicing_function()
    def short_comment(x):
        return len(x.text.split()) < 5

    @preprocessor(memoize=True)
    def textblob_sentiment(x):
        x.polarity = TextBlob(x.text).sentiment.polarity
        return x

    @slicing_function(pre=[textblob_sentiment])
    def textblob_polarity(x):
        return x.polarity > 0.9

    return [short_comment, textblob_polarity]


def polarlab_slices():
    from textblob import TextBlob

    from polarlab.slicing import slicing_function

    def textblob_sentiment(x):
        x.meta["polarity"] = TextBlob(x.text).sentiment.polarity
        return x

    @slicing_function()
    def short_comment(x):
        return len(x.text.split()) < 5

    @slicing_function(pre=[textblob_sentiment])
    def textblob_polarity(x):
        return x.polarity > 0.9

    return [short_comment, textblob_polarity]


def _drop(words: list[str], rng: random.Random) -> list[str] | None:
    if len(words) < 4:
        return None
    i = rng.randrange(len(words))
    return words[:i] + words[i + 1:]


def _swap(words: list[str], rng: random.Random) -> list[str] | None:
    if len(words) < 3:
        return None
    i, j = rng.sample(range(len(words)), 2)
    words = list(words)
    words[i], words[j] = words[j], words[i]
    return words


def _shout(words: list[str], rng: random.Random) -> list[str] | None:
    if not words:
        return None
    i = rng.randrange(len(words))
    return words[:i] + [words[i].upper()] + words[i + 1:]


EDITS = {"drop_word": _drop, "swap_words": _swap, "shout_word": _shout}


def _edit(name: str, text: str) -> str | None:
    rng = random.Random(f"{name}:{text}")          # deterministic per text: both appliers see the same edit
    words = EDITS[name](text.split(), rng)
    return None if words is None else " ".join(words)


def _tfs(decorator):
    """The three edits as transformation functions of ``decorator`` (Snorkel's or polarlab's: same body)."""

    def make(name):
        @decorator(name=name)
        def tf(x):
            new = _edit(name, x.text)
            if new is None:
                return None
            x.text = new
            return x
        return tf

    return [make(n) for n in EDITS]


def snorkel_tfs():
    from snorkel.augmentation import transformation_function

    return _tfs(transformation_function)


def polarlab_tfs():
    from polarlab.augment import transformation_function

    return _tfs(transformation_function)


def end_model(train: pd.DataFrame, test: pd.DataFrame):
    """The tutorials' bag-of-words logistic regression; returns (preds, probs) on test."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = CountVectorizer(ngram_range=(1, 5))
    clf = LogisticRegression(C=1e3, solver="liblinear").fit(vec.fit_transform(train.text), train.label)
    probs = clf.predict_proba(vec.transform(test.text))
    return probs.argmax(axis=1), probs


def main(argv: list[str] | None = None) -> dict:
    from snorkel.analysis import Scorer
    from snorkel.augmentation import MeanFieldPolicy, PandasTFApplier
    from snorkel.slicing import PandasSFApplier

    from polarlab.augment import augment
    from polarlab.data import from_pandas
    from polarlab.slicing import apply_slices, slice_report
    from polarlab.task import Task

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DATA)
    args = ap.parse_args(argv)
    train, test = load_spam(args.data)
    task = Task(labels=("ham", "spam"), name="spam")
    test_ds = from_pandas(test, task, text_column="text", label_column="label", id_column="id", name="test")
    preds, probs = end_model(train, test)

    # slicing: Snorkel's applier and scorer vs polarlab's, same predictions
    S_snorkel = PandasSFApplier(snorkel_slices()).apply(test, progress_bar=False)
    snorkel_table = Scorer(metrics=["f1"]).score_slices(S=S_snorkel, golds=test.label.to_numpy(), preds=preds,
                                                       probs=probs, as_dataframe=True)
    S_polar = apply_slices(test_ds, polarlab_slices())
    ours = slice_report(S_polar, gold=test_ds.gold, preds=probs, dataset="sms")   # "sms" → WRENCH's binary F1
    same_membership = all(np.array_equal(S_snorkel[n].astype(bool), S_polar.column(n)) for n in S_polar.names)
    slices = {}
    for name in ["overall"] + S_polar.names:
        key = name if name in snorkel_table.index else f"{name}"
        slices[name] = {"snorkel_f1": float(snorkel_table.loc[key, "f1"]),
                        "polarlab_f1": float(ours.loc[name, "label_wrench_metric"]), "n": int(ours.loc[name, "n"])}
    slices_equal = same_membership and all(abs(v["snorkel_f1"] - v["polarlab_f1"]) < 1e-12 for v in slices.values())

    # augmentation: the tutorial's policy, same seed, Snorkel's applier vs polarlab's
    policy_args = dict(sequence_length=2, p=[0.4, 0.4, 0.2], n_per_original=2, keep_original=True)
    np.random.seed(0)
    snorkel_aug = PandasTFApplier(snorkel_tfs(), MeanFieldPolicy(len(EDITS), **policy_args)).apply(
        train, progress_bar=False)
    train_ds = from_pandas(train, task, text_column="text", label_column="label", id_column="id", name="train")
    ours_aug = augment(train_ds, polarlab_tfs(), MeanFieldPolicy(len(EDITS), **policy_args), seed=0)
    augmented_equal = (len(snorkel_aug) == len(ours_aug)
                       and snorkel_aug.text.tolist() == ours_aug.frame.text.tolist()
                       and snorkel_aug.label.tolist() == ours_aug.frame.label.tolist())
    acc_plain = float((preds == test.label.to_numpy()).mean())
    aug_preds, _ = end_model(ours_aug.frame[["text", "label"]], test)
    acc_aug = float((aug_preds == test.label.to_numpy()).mean())

    print(f"{'slice':<20}{'n':>6}{'Snorkel F1':>12}{'polarlab F1':>13}")
    for name, v in slices.items():
        print(f"{name:<20}{v['n']:>6}{v['snorkel_f1']:>12.4f}{v['polarlab_f1']:>13.4f}")
    print(f"augmented rows: Snorkel {len(snorkel_aug)}, polarlab {len(ours_aug)}, identical: {augmented_equal}")
    print(f"end-model test accuracy: plain {acc_plain:.3f}, with augmented rows {acc_aug:.3f}")
    result = {"slices": slices, "slices_equal": bool(slices_equal), "augmented_rows": int(len(ours_aug)),
              "augmented_equal": bool(augmented_equal), "acc_plain": acc_plain, "acc_augmented": acc_aug}
    print(dumps(result))
    return result


if __name__ == "__main__":
    main()
