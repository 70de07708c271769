"""Harmonizer models h(x): features (b, d) -> class logits (b, k)."""
from __future__ import annotations

from typing import Literal

import torch
from torch import nn

ModelKind = Literal["lr", "mlp"]


class LogisticRegression(nn.Module):
    """One linear layer (multinomial logistic regression). Zero-initialised, so an
    unfitted model predicts the uniform distribution."""

    def __init__(self, n_features: int, n_classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(n_features, n_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, d) -> (b, k)
        return self.linear(x)


class MLP(nn.Module):
    """Two-layer perceptron: Linear(d, hidden) - ReLU - Dropout - Linear(hidden, k)."""

    def __init__(self, n_features: int, n_classes: int, hidden: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(n_features, hidden), nn.ReLU(), nn.Dropout(dropout), nn.Linear(hidden, n_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, d) -> (b, k)
        return self.net(x)


def build_model(kind: str, n_features: int, n_classes: int, hidden: int = 128) -> nn.Module:
    """The harmonizer network named ``kind`` (``"lr"`` or ``"mlp"``)."""
    if kind == "lr":
        return LogisticRegression(n_features, n_classes)
    if kind == "mlp":
        return MLP(n_features, n_classes, hidden=hidden)
    raise ValueError(f"unknown harmonizer model {kind!r}; use 'lr' or 'mlp'")
