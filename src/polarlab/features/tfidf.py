"""TF-IDF features (scikit-learn), optionally reduced to a dense LSA space; fitted on train only."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer

from ..data.dataset import Dataset
from ..errors import InputError, NotFittedError
from .embedding import texts_of


class TfidfFeatures:
    """TF-IDF of word n-grams, then (by default) TruncatedSVD to a dense (n, n_components) array.

    Vocabulary, IDF and the SVD basis come from the data given to :meth:`fit` only; test
    data is only :meth:`transform`-ed. Relation datasets get their entities marked first.

    Args:
        max_features: vocabulary size cap.
        ngram_range: word n-gram range.
        min_df: minimum document frequency (count or share) of a term.
        sublinear_tf: use 1 + log(tf).
        n_components: SVD dimensions; ``None`` returns the dense TF-IDF matrix itself.
        seed: SVD random state (and the fit subsample's seed).
        max_fit_rows: fit on a seeded random subsample of this many rows when :meth:`fit` gets more
            (``None`` = every row); the vocabulary and SVD basis stop changing long before a million rows,
            their cost does not. :meth:`transform` covers every row, ``block_rows`` at a time.
        block_rows: rows per block of :meth:`transform` (bounds the sparse and float64 temporaries).

    Attributes (after fit):
        vectorizer_: the fitted ``TfidfVectorizer``.  svd_: the fitted ``TruncatedSVD`` or None.
    """

    def __init__(self, max_features: int = 50000, ngram_range: tuple[int, int] = (1, 2),
                 min_df: int | float = 1, sublinear_tf: bool = True, n_components: int | None = 256,
                 seed: int = 0, max_fit_rows: int | None = None, block_rows: int = 100_000) -> None:
        self.max_features = max_features
        self.ngram_range = tuple(ngram_range)
        self.min_df = min_df
        self.sublinear_tf = sublinear_tf
        self.n_components = n_components
        self.seed = seed
        self.max_fit_rows = max_fit_rows
        self.block_rows = block_rows

    def fit(self, data: Dataset | Sequence[str]) -> "TfidfFeatures":
        texts = texts_of(data)
        if not texts:
            raise InputError("no texts to fit TF-IDF on", fix="pass the training split")
        if self.max_fit_rows is not None and len(texts) > self.max_fit_rows:
            keep = np.random.default_rng(self.seed).choice(len(texts), size=int(self.max_fit_rows), replace=False)
            texts = [texts[i] for i in np.sort(keep)]
        self.vectorizer_ = TfidfVectorizer(max_features=self.max_features, ngram_range=self.ngram_range,
                                           min_df=self.min_df, sublinear_tf=self.sublinear_tf)
        T = self.vectorizer_.fit_transform(texts)
        self.svd_ = None
        if self.n_components is not None:
            k = min(int(self.n_components), T.shape[1] - 1, T.shape[0] - 1)
            if k >= 1:
                self.svd_ = TruncatedSVD(n_components=k, random_state=self.seed).fit(T)
        return self

    def transform(self, data: Dataset | Sequence[str]) -> np.ndarray:
        """Features, shape (n, d), float32."""
        if not hasattr(self, "vectorizer_"):
            raise NotFittedError("TF-IDF features are not fitted", fix="call fit(train) first")
        texts = texts_of(data)
        d = self.svd_.n_components if self.svd_ is not None else len(self.vectorizer_.vocabulary_)
        out = np.empty((len(texts), d), dtype=np.float32)
        for a in range(0, len(texts), self.block_rows):
            T = self.vectorizer_.transform(texts[a:a + self.block_rows])
            out[a:a + T.shape[0]] = self.svd_.transform(T) if self.svd_ is not None else T.toarray()
        return out

    def fit_transform(self, data: Dataset | Sequence[str]) -> np.ndarray:
        return self.fit(data).transform(data)


def tfidf(train: Dataset | Sequence[str], *others: Dataset | Sequence[str],
          **kwargs) -> tuple[np.ndarray, ...]:
    """Fit TF-IDF on ``train`` and transform it and every split in ``others``.

    Returns:
        ``(X_train, X_other1, ...)``, each shape (n_split, d).
    """
    f = TfidfFeatures(**kwargs).fit(train)
    return (f.transform(train),) + tuple(f.transform(o) for o in others)
