"""TF-IDF character n-gram nearest name (BioSyn's sparse score)."""
from __future__ import annotations

import numpy as np

from ...ontology.terms import Ontology, normalize_name
from ..mentions import MentionSet
from .base import Ranking, RowTable, max_over_rows, names_table, top_entities


class SparseLinker:
    """Cosine of TF-IDF character n-grams (within word boundaries) between the normalised mention and
    every normalised name; an entity scores its best name.

    Args:
        ngram_range: character n-gram sizes.
        chunk: mentions scored per block (bounds memory to chunk x names floats).
    """

    name = "sparse"

    def __init__(self, ngram_range: tuple[int, int] = (1, 3), chunk: int = 512) -> None:
        self.ngram_range = tuple(ngram_range)
        self.chunk = int(chunk)

    def fit(self, ontology: Ontology) -> "SparseLinker":
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.table_: RowTable = names_table(ontology)
        self.vectorizer_ = TfidfVectorizer(analyzer="char_wb", ngram_range=self.ngram_range, dtype=np.float32)
        self.names_ = self.vectorizer_.fit_transform([normalize_name(t) for t in self.table_.texts])
        return self

    def _vec(self, texts: list[str]):
        return self.vectorizer_.transform([normalize_name(t) for t in texts])

    def rank(self, mentions: MentionSet, k: int) -> Ranking:
        return self.rank_texts(mentions.surfaces, k)

    def rank_texts(self, texts: list[str], k: int) -> Ranking:
        """Top-k entities of raw strings (e.g. names, for hard negatives)."""
        Q = self._vec(list(texts))
        parts = []
        for a in range(0, Q.shape[0], self.chunk):
            S = (Q[a:a + self.chunk] @ self.names_.T).toarray()
            parts.append(top_entities(S, self.table_.entity, k))
        return Ranking(np.vstack([p.entities for p in parts]), np.vstack([p.scores for p in parts]))

    def score(self, mentions: MentionSet, candidates: np.ndarray) -> np.ndarray:
        Q = self._vec(mentions.surfaces)
        return max_over_rows(lambda i, rows: (Q[i] @ self.names_[rows].T).toarray().ravel(),
                             self.table_, candidates)
