"""Feature extractors by name (``[harmonizer] features = "..."``).

A factory takes a :class:`polarlab.features.spec.FeatureSpec` and returns an unfitted extractor (``fit(train)``,
``transform(split) -> (n, d)``). A plugin registers another::

    register_features("bm25", lambda spec: MyBm25Features(spec.max_features))
"""
from __future__ import annotations

from typing import Any, Callable

FeatureFactory = Callable[[Any], Any]

FEATURE_KINDS: dict[str, FeatureFactory] = {}


def register_features(name: str, factory: FeatureFactory) -> None:
    """Make ``features = name`` available (replaces an earlier registration of ``name``)."""
    FEATURE_KINDS[name] = factory
