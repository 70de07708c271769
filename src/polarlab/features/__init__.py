"""Example features for the harmonizer: sentence embeddings (cached) or TF-IDF."""
from .embedding import EMBEDDING_DIM, MODEL_ID, Embedder, cache_key, cached_encode, embed, packaged_model_path
from .numeric import NumericFeatures
from .relation import between_texts, entity_types, mark_entities, marked_texts
from .spec import AutoFeatures, EmbeddingFeatures, FeatureExtractor, FeatureSpec, RelationFeatures, auto_kind, make_features
from .tfidf import TfidfFeatures, tfidf

__all__ = [
    "Embedder", "embed", "cached_encode", "cache_key", "packaged_model_path", "MODEL_ID", "EMBEDDING_DIM",
    "TfidfFeatures", "tfidf", "mark_entities", "marked_texts",
    "FeatureSpec", "FeatureExtractor", "EmbeddingFeatures", "make_features",
    "NumericFeatures", "RelationFeatures", "AutoFeatures", "auto_kind", "between_texts", "entity_types",
]
