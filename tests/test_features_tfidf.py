"""TF-IDF features are fitted on the training split only."""
import numpy as np
import pytest

from polarlab.errors import ConfigError, InputError
from polarlab.features import FeatureSpec, TfidfFeatures, make_features, tfidf

TRAIN = ["cheap pills buy now", "great song love it", "buy cheap watches now", "love this song so much",
         "subscribe to my channel", "nice video thanks"]
TEST = ["zebra quantum cheap", "love song"]


def test_vocabulary_and_idf_from_train_only():
    f = TfidfFeatures(n_components=None).fit(TRAIN)
    vocab = f.vectorizer_.vocabulary_
    assert "zebra" not in vocab and "quantum" not in vocab
    idf = f.vectorizer_.idf_.copy()
    Xte = f.transform(TEST)
    np.testing.assert_array_equal(f.vectorizer_.idf_, idf)           # transform learns nothing
    assert Xte.shape == (2, len(vocab))
    # the test-only words contribute nothing: row 0 is the normalised vector of "cheap" alone
    assert np.count_nonzero(Xte[0]) == 1 and Xte[0, vocab["cheap"]] == pytest.approx(1.0)


def test_fit_on_train_differs_from_fit_on_all():
    a = TfidfFeatures(n_components=None).fit(TRAIN)
    b = TfidfFeatures(n_components=None).fit(TRAIN + TEST)
    assert len(b.vectorizer_.vocabulary_) > len(a.vectorizer_.vocabulary_)


def test_svd_dense_and_helper():
    Xtr, Xte = tfidf(TRAIN, TEST, n_components=3)
    assert Xtr.shape == (6, 3) and Xte.shape == (2, 3) and Xtr.dtype == np.float32
    fe = make_features("tfidf", n_components=3).fit(TRAIN)
    np.testing.assert_allclose(fe.transform(TEST), Xte, atol=1e-6)


def test_errors():
    with pytest.raises(InputError, match="not fitted"):
        TfidfFeatures().transform(TEST)
    with pytest.raises(ConfigError, match="kind"):
        make_features("bag")
    with pytest.raises(ConfigError, match="unknown feature setting"):
        make_features("tfidf", colour="red")
    assert FeatureSpec().kind == "embedding"
