"""Sentence embeddings from the packaged all-MiniLM-L6-v2: real model, on-disk cache."""
import numpy as np
import pytest

from polarlab.export.atomic import atomic_path
from polarlab.features import Embedder, embed, make_features, packaged_model_path

pytestmark = pytest.mark.slow

TEXTS = ["Check out my channel and subscribe!", "Subscribe to my channel please",
         "This song brings back memories of summer.", "The mitochondria is the powerhouse of the cell."]


@pytest.fixture(scope="module")
def embedder():
    return Embedder()


def test_packaged_model_is_used(embedder):
    assert (packaged_model_path() / "model.safetensors").exists()
    assert embedder.model_path == packaged_model_path()


def test_shape_norm_and_meaning(embedder):
    X = embed(TEXTS, embedder=embedder)
    assert X.shape == (4, 384) and X.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-4)
    sim = X @ X.T
    assert sim[0, 1] > sim[0, 2] and sim[0, 1] > sim[0, 3]   # the two spam lines are closest


def test_cache_written_then_read(tmp_path, embedder):
    before = embedder.n_encoded
    X1 = embed(TEXTS, tmp_path, embedder=embedder)
    files = list(tmp_path.glob("emb-*.npy"))
    assert len(files) == 1 and embedder.n_encoded == before + 4
    # the second call must come from the file: change the file and see the change come back
    marked = X1.copy()
    marked[0, 0] = 123.0
    with atomic_path(files[0]) as tmp, open(tmp, "wb") as fh:
        np.save(fh, marked)
    X2 = embed(TEXTS, tmp_path, embedder=embedder)
    assert embedder.n_encoded == before + 4            # model not run again
    assert X2[0, 0] == 123.0
    # other texts -> another key, another file
    embed(TEXTS[:2], tmp_path, embedder=embedder)
    assert len(list(tmp_path.glob("emb-*.npy"))) == 2
    assert not list(tmp_path.glob(".*.tmp"))


def test_corrupt_cache_is_recomputed(tmp_path, embedder):
    X1 = embed(TEXTS, tmp_path, embedder=embedder)
    f = next(tmp_path.glob("emb-*.npy"))
    f.write_bytes(b"not a numpy file")
    X2 = embed(TEXTS, tmp_path, embedder=embedder)
    np.testing.assert_allclose(X1, X2, atol=1e-6)
    assert np.load(f).shape == (4, 384)


def test_make_features_embedding(tmp_path):
    fe = make_features("embedding", cache_dir=str(tmp_path))
    X = fe.fit(TEXTS).transform(TEXTS[:3])
    assert X.shape == (3, 384)


def test_device_auto_is_what_sentence_transformers_picks_and_a_bad_device_is_named(embedder):
    """device = "auto" loads on the GPU when torch has one, else the CPU (torch read "auto" as no device at all),
    and gives the CPU's embeddings there; a word torch does not read, or a GPU it lacks, is a ConfigError before
    the model loads."""
    import torch

    from polarlab.errors import ConfigError

    auto = Embedder(device="auto")
    want = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert auto.model.device.type == want
    np.testing.assert_allclose(auto.encode(TEXTS), embedder.encode(TEXTS), atol=1e-4)
    with pytest.raises(ConfigError, match="did you mean 'cuda'"):
        Embedder(device="gpu").model
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="without CUDA|no CUDA GPU"):
            Embedder(device="cuda:0").model
