"""One entry point for example features: fit on the training split, apply to any split."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal, Protocol, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..matrix.subsample import DEFAULT_MAX_FIT_ROWS
from .embedding import Embedder, embed
from .registry import FEATURE_KINDS, register_features
from .tfidf import TfidfFeatures

FeatureKind = Literal["embedding", "tfidf", "numeric", "relation", "auto"]


class FeatureExtractor(Protocol):
    def fit(self, data: Dataset | Sequence[str]) -> "FeatureExtractor": ...
    def transform(self, data: Dataset | Sequence[str]) -> np.ndarray: ...
    def fit_transform(self, data: Dataset | Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class FeatureSpec:
    """What features the harmonizer sees.

    Attributes:
        kind: ``"embedding"`` (all-MiniLM-L6-v2, 384-d), ``"tfidf"``, ``"numeric"`` (tabular data's
            standardised vectors), ``"relation"`` (embedding of the entity-marked text + TF-IDF of the text
            between the entities + entity types where present) or ``"auto"`` (numeric for tabular data,
            relation for relation data, embedding otherwise; decided at ``fit`` from the data).
        cache_dir: embedding cache directory (``None`` = no cache).
        entity_embeddings: relation tasks, embedding kind: append entity1/entity2 embeddings.
        batch_size: embedding batch size.
        device: embedding device.
        max_features, ngram_range, n_components: TF-IDF settings (see :class:`TfidfFeatures`).
        max_fit_rows: TF-IDF: the vocabulary, IDF and SVD basis are fitted on at most this many rows of the
            fit split (a seeded random subsample above it); every row is transformed.
    """

    kind: FeatureKind = "embedding"
    cache_dir: str | None = None
    entity_embeddings: bool = False
    batch_size: int = 64
    device: str = "cpu"
    max_features: int = 50000
    ngram_range: tuple[int, int] = (1, 2)
    n_components: int | None = 256
    max_fit_rows: int | None = DEFAULT_MAX_FIT_ROWS


class EmbeddingFeatures:
    """Sentence embeddings; ``fit`` has nothing to learn (the encoder is pretrained)."""

    def __init__(self, cache_dir: str | os.PathLike | None = None, entity_embeddings: bool = False,
                 batch_size: int = 64, device: str = "cpu", embedder: Embedder | None = None) -> None:
        self.cache_dir = cache_dir
        self.entity_embeddings = entity_embeddings
        self.embedder = embedder or Embedder(device=device, batch_size=batch_size)

    def fit(self, data: Dataset | Sequence[str]) -> "EmbeddingFeatures":
        return self

    def transform(self, data: Dataset | Sequence[str]) -> np.ndarray:
        """Shape (n, 384) (or (n, 1152) with entity embeddings on relation data)."""
        return embed(data, self.cache_dir, embedder=self.embedder,
                     entity_embeddings=self.entity_embeddings)

    def fit_transform(self, data: Dataset | Sequence[str]) -> np.ndarray:
        return self.transform(data)


class RelationFeatures:
    """Features that carry what relation rules test, concatenated per example:

    * the sentence embedding of the entity-marked text (``[E1] .. [/E1]``, 384-d),
    * TF-IDF (LSA, ``between_components`` dims) of the words strictly between the two entities,
    * one-hot entity-type pairs, where the dataset has type columns (``type1``/``type2``).

    The TF-IDF vocabulary, its SVD basis and the type vocabulary come from the fit split only.
    """

    def __init__(self, cache_dir: str | os.PathLike | None = None, batch_size: int = 64, device: str = "cpu",
                 between_components: int = 128, embedder: Embedder | None = None) -> None:
        self.embedding = EmbeddingFeatures(cache_dir=cache_dir, batch_size=batch_size, device=device,
                                           embedder=embedder)
        self.between_components = between_components

    def fit(self, data: Dataset) -> "RelationFeatures":
        from .relation import between_texts, entity_types

        self._check(data)
        self.between_ = TfidfFeatures(ngram_range=(1, 2), n_components=self.between_components,
                                      min_df=2).fit([t or "_" for t in between_texts(data)])
        types = entity_types(data)
        self.types_ = sorted(set(types)) if types is not None else []
        return self

    def transform(self, data: Dataset) -> np.ndarray:
        """Shape (n, 384 + between dims + number of type pairs), float32."""
        from .relation import between_texts, entity_types

        self._check(data)
        if not hasattr(self, "between_"):
            raise ConfigError("relation features are not fitted", fix="call fit(train) first")
        parts = [self.embedding.transform(data), self.between_.transform([t or "_" for t in between_texts(data)])]
        if self.types_:
            types = entity_types(data) or [""] * len(data)
            onehot = np.zeros((len(data), len(self.types_)), dtype=np.float32)
            index = {t: i for i, t in enumerate(self.types_)}
            for i, t in enumerate(types):
                if t in index:
                    onehot[i, index[t]] = 1.0
            parts.append(onehot)
        return np.hstack(parts).astype(np.float32)

    def fit_transform(self, data: Dataset) -> np.ndarray:
        return self.fit(data).transform(data)

    @staticmethod
    def _check(data: object) -> None:
        if not isinstance(data, Dataset) or not data.is_relation:
            raise ConfigError("relation features need a relation dataset (entity1/entity2 columns)",
                              column="features", fix='use features = "embedding" or "auto"')


class AutoFeatures:
    """Chooses the extractor from the fit data: numeric (tabular), relation (relation), else embedding.

    Attributes (after fit): kind_: the kind chosen.  extractor_: the fitted extractor.
    """

    def __init__(self, spec: "FeatureSpec") -> None:
        self.spec = spec

    def fit(self, data: Dataset | Sequence[str]) -> "AutoFeatures":
        self.kind_ = auto_kind(data)
        self.extractor_ = make_features(replace(self.spec, kind=self.kind_)).fit(data)
        return self

    def transform(self, data: Dataset | Sequence[str]) -> np.ndarray:
        if not hasattr(self, "extractor_"):
            raise ConfigError("features are not fitted", fix="call fit(train) first")
        return self.extractor_.transform(data)

    def fit_transform(self, data: Dataset | Sequence[str]) -> np.ndarray:
        return self.fit(data).transform(data)


def auto_kind(data: Dataset | Sequence[str]) -> str:
    """``"numeric"`` for tabular datasets, ``"relation"`` for relation datasets, else ``"embedding"``."""
    if isinstance(data, Dataset) and data.is_tabular:
        return "numeric"
    if isinstance(data, Dataset) and data.is_relation:
        return "relation"
    return "embedding"


def make_features(kind: FeatureKind | FeatureSpec = "embedding", **overrides) -> FeatureExtractor:
    """An unfitted feature extractor: ``make_features("tfidf").fit(train).transform(test)``.

    Args:
        kind: ``"embedding"``, ``"tfidf"``, ``"numeric"``, ``"relation"``, ``"auto"`` or a :class:`FeatureSpec`.
        **overrides: fields of :class:`FeatureSpec`.
    """
    spec = kind if isinstance(kind, FeatureSpec) else FeatureSpec(kind=kind)
    try:
        spec = replace(spec, **overrides)
    except TypeError as exc:
        raise ConfigError(f"unknown feature setting: {exc}", column="features",
                          fix=f"use fields of FeatureSpec: {list(FeatureSpec.__dataclass_fields__)}") from None
    if spec.kind not in FEATURE_KINDS:
        raise ConfigError(f"unknown feature kind {spec.kind!r}", column="features.kind",
                          fix=f"use one of {sorted(FEATURE_KINDS)}")
    return FEATURE_KINDS[spec.kind](spec)


register_features("embedding", lambda spec: EmbeddingFeatures(cache_dir=spec.cache_dir,
                                                              entity_embeddings=spec.entity_embeddings,
                                                              batch_size=spec.batch_size, device=spec.device))
register_features("tfidf", lambda spec: TfidfFeatures(max_features=spec.max_features, ngram_range=spec.ngram_range,
                                                      n_components=spec.n_components,
                                                      max_fit_rows=spec.max_fit_rows))
register_features("numeric", lambda spec: _numeric())
register_features("relation", lambda spec: RelationFeatures(cache_dir=spec.cache_dir, batch_size=spec.batch_size,
                                                            device=spec.device))
register_features("auto", lambda spec: AutoFeatures(spec))


def _numeric():
    from .numeric import NumericFeatures

    return NumericFeatures()
