"""One entry point for example features: fit on the training split, apply to any split."""
from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Literal, Protocol, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from .embedding import Embedder, embed
from .registry import FEATURE_KINDS, register_features
from .tfidf import TfidfFeatures

FeatureKind = Literal["embedding", "tfidf"]


class FeatureExtractor(Protocol):
    def fit(self, data: Dataset | Sequence[str]) -> "FeatureExtractor": ...
    def transform(self, data: Dataset | Sequence[str]) -> np.ndarray: ...
    def fit_transform(self, data: Dataset | Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class FeatureSpec:
    """What features the harmonizer sees.

    Attributes:
        kind: ``"embedding"`` (all-MiniLM-L6-v2, 384-d) or ``"tfidf"``.
        cache_dir: embedding cache directory (``None`` = no cache).
        entity_embeddings: relation tasks, embedding kind: append entity1/entity2 embeddings.
        batch_size: embedding batch size.
        device: embedding device.
        max_features, ngram_range, n_components: TF-IDF settings (see :class:`TfidfFeatures`).
    """

    kind: FeatureKind = "embedding"
    cache_dir: str | None = None
    entity_embeddings: bool = False
    batch_size: int = 64
    device: str = "cpu"
    max_features: int = 50000
    ngram_range: tuple[int, int] = (1, 2)
    n_components: int | None = 256


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


def make_features(kind: FeatureKind | FeatureSpec = "embedding", **overrides) -> FeatureExtractor:
    """An unfitted feature extractor: ``make_features("tfidf").fit(train).transform(test)``.

    Args:
        kind: ``"embedding"``, ``"tfidf"`` or a :class:`FeatureSpec`.
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
                                                      n_components=spec.n_components))
