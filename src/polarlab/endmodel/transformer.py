"""A fine-tuned MiniLM classifier: the packaged all-MiniLM-L6-v2 encoder + a linear head.

Trained end to end on the weighted soft cross-entropy ``-sum_i w_i sum_c P[i,c] log p(c|x_i)``
(reviewed rows one-hot). Minutes on a CPU for a few thousand short texts. The encoder and head
come from :mod:`polarlab.harmonizer.transformer` (same module, different objective).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import InputError, NotFittedError
from ..harmonizer.transformer import _Encoder, _torch_threads
from ..task import Task
from .base import EndModel, register


@register("transformer")
class MiniLMClassifier(EndModel):
    """Fine-tuned sentence encoder with a classification head.

    Args:
        task: the task.
        epochs: passes over the training rows.
        lr: AdamW learning rate of the encoder.  head_lr: of the head.
        batch_size: texts per step.  max_length: tokens per text.
        seed: initialisation and batch order.
        num_threads: torch threads while fitting/predicting (None = torch's setting).
        model_path: a sentence-transformers directory; default the packaged all-MiniLM-L6-v2.
    """

    def __init__(self, task: Task, epochs: int = 3, lr: float = 3e-5, head_lr: float = 1e-3, batch_size: int = 16,
                 max_length: int = 128, seed: int = 0, num_threads: int | None = None,
                 model_path: str | os.PathLike | None = None) -> None:
        super().__init__(task)
        if epochs < 1 or batch_size < 1 or max_length < 8:
            raise InputError(f"epochs={epochs}, batch_size={batch_size}, max_length={max_length}",
                             column="endmodel.epochs", fix="use epochs >= 1, batch_size >= 1, max_length >= 8")
        self.epochs, self.lr, self.head_lr = int(epochs), float(lr), float(head_lr)
        self.batch_size, self.max_length, self.seed = int(batch_size), int(max_length), int(seed)
        self.num_threads = num_threads
        self.model_path = None if model_path is None else str(model_path)

    def _path(self) -> str:
        if self.model_path is not None:
            return self.model_path
        from ..features.embedding import packaged_model_path

        return str(packaged_model_path())

    def _build(self) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.model_ = _Encoder(self._path(), self.task.n_classes)

    def _logits(self, texts: list[str]) -> torch.Tensor:
        batch = self.model_.tokenizer(texts, padding=True, truncation=True, max_length=self.max_length,
                                      return_tensors="pt")
        return self.model_(dict(batch))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The texts themselves, as an (n,) object array (the encoder is part of the model)."""
        return np.array([str(t) for t in texts], dtype=object)

    def fit_encoded(self, F: np.ndarray, P: np.ndarray, w: np.ndarray) -> "MiniLMClassifier":
        texts = [str(t) for t in F]
        P = torch.as_tensor(np.asarray(P), dtype=torch.float32)
        w = torch.as_tensor(np.asarray(w), dtype=torch.float32)
        if P.shape != (len(texts), self.task.n_classes) or w.shape != (len(texts),):
            raise InputError(f"{len(texts)} texts, targets {tuple(P.shape)}", column="targets",
                             fix="pass one row of probabilities and one weight per text")
        rng = np.random.default_rng(self.seed)
        with _torch_threads(self.num_threads):
            self._build()
            opt = torch.optim.AdamW([{"params": self.model_.encoder.parameters(), "lr": self.lr},
                                     {"params": self.model_.head.parameters(), "lr": self.head_lr}],
                                    weight_decay=0.01)
            self.history_ = []
            for epoch in range(1, self.epochs + 1):
                self.model_.train()
                total, order = 0.0, rng.permutation(len(texts))
                for s in range(0, len(order), self.batch_size):
                    idx = order[s:s + self.batch_size]
                    logp = torch.log_softmax(self._logits([texts[i] for i in idx]), dim=1)
                    wi = w[idx]
                    loss = -((P[idx] * logp).sum(1) * wi).sum() / wi.sum().clamp_min(1e-8)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                self.history_.append((epoch, total / max(len(texts), 1)))
        self.model_.eval()
        return self

    def predict_proba_encoded(self, F: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("the end model is not fitted", fix="call fit(...) or load a saved model")
        texts = [str(t) for t in F]
        out = []
        self.model_.eval()
        with _torch_threads(self.num_threads), torch.no_grad():
            for s in range(0, len(texts), 64):
                out.append(torch.softmax(self._logits(texts[s:s + 64]), dim=1).numpy())
        return np.concatenate(out).astype(np.float64) if out else np.zeros((0, self.task.n_classes))

    def params(self) -> dict[str, Any]:
        return {"epochs": self.epochs, "lr": self.lr, "head_lr": self.head_lr, "batch_size": self.batch_size,
                "max_length": self.max_length, "seed": self.seed}

    def _save_weights(self, directory: Path) -> None:
        torch.save(self.model_.state_dict(), directory / "weights.pt")

    def _load_weights(self, directory: Path) -> None:
        self._build()
        state = torch.load(directory / "weights.pt", map_location="cpu", weights_only=True)
        self.model_.load_state_dict(state)
        self.model_.eval()
