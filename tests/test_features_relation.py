"""Relation tasks: entities are marked so the harmonizer's features see them."""
import numpy as np
import pandas as pd
import pytest

from polarlab.data.dataset import Dataset
from polarlab.features import Embedder, embed, make_features, mark_entities, marked_texts

SENT = "aspirin inhibits COX-1 but not COX-2"


def test_mark_with_spans_in_either_order():
    assert mark_entities(SENT, "aspirin", "COX-1", (0, 7), (17, 22)) == \
        "[E1] aspirin [/E1] inhibits [E2] COX-1 [/E2] but not COX-2"
    assert mark_entities(SENT, "COX-2", "aspirin", (31, 36), (0, 7)) == \
        "[E2] aspirin [/E2] inhibits COX-1 but not [E1] COX-2 [/E1]"


def test_mark_nested_and_fallbacks():
    assert mark_entities("the big dog barked", "big dog", "dog", (4, 11), (8, 11)) == \
        "the [E1] big [E2] dog [/E2] [/E1] barked"
    # no spans: first occurrence, case-insensitive
    assert mark_entities(SENT, "Aspirin", "cox-2") == "[E1] aspirin [/E1] inhibits COX-1 but not [E2] COX-2 [/E2]"
    # out-of-range span falls back to search; entity absent from the text is prefixed
    assert mark_entities(SENT, "ibuprofen", "COX-1", (50, 60), None) == \
        "[E1] ibuprofen [/E1] aspirin inhibits [E2] COX-1 [/E2] but not COX-2"


def _relation_dataset():
    frame = pd.DataFrame({
        "id": ["a", "b"], "text": [SENT, SENT], "label": [0, 1],
        "entity1": ["aspirin", "aspirin"], "entity2": ["COX-1", "COX-2"],
        "span1": [(0, 7), (0, 7)], "span2": [(17, 22), (31, 36)],
    })
    return Dataset(frame=frame, name="rel")


def test_marked_texts_of_dataset():
    texts = marked_texts(_relation_dataset())
    assert texts[0] != texts[1]
    assert "[E2] COX-1 [/E2]" in texts[0] and "[E2] COX-2 [/E2]" in texts[1]


def test_tfidf_sees_markers():
    ds = _relation_dataset()
    X = make_features("tfidf", n_components=None).fit_transform(ds)
    assert not np.allclose(X[0], X[1])          # same sentence, different entity pair


@pytest.mark.slow
def test_embeddings_of_relation_dataset(tmp_path):
    ds = _relation_dataset()
    e = Embedder()
    X = embed(ds, tmp_path, embedder=e)
    assert X.shape == (2, 384)
    assert not np.allclose(X[0], X[1])
    np.testing.assert_allclose(X, e.encode(marked_texts(ds)), atol=1e-5)
    Xe = embed(ds, tmp_path, embedder=e, entity_embeddings=True)
    assert Xe.shape == (2, 3 * 384)
    np.testing.assert_allclose(Xe[:, 384:768], e.encode(["aspirin", "aspirin"]), atol=1e-5)
