"""The torch device of the sentence encoder (``[harmonizer] device``): which values are allowed, what each means,
and whether this machine has it.

``"cpu"``; ``"cuda"`` (the current GPU) or ``"cuda:N"`` (GPU N); ``"mps"`` (Apple silicon); ``"auto"``: what
sentence-transformers picks when given no device (CUDA, then MPS, else the CPU). Unset = ``"cpu"``. The value goes
to ``SentenceTransformer(device=...)`` (:class:`polarlab.features.embedding.Embedder`); the harmonizer's own h(x) is
small and always fits on the CPU.
"""
from __future__ import annotations

import re

from ..errors import ConfigError

DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")
"""The allowed values, as the docs and messages name them (N: a GPU index, 0, 1, ...)."""

_DEVICE = re.compile(r"(auto|cpu|mps|cuda(:\d+)?)")


def check_device(value: str) -> str:
    """``value`` when it is one of :data:`DEVICES` (exactly: torch reads ``"CUDA"`` as no device).

    Raises:
        ValueError: with a ``Fix:`` part (the form the project-file models' validators raise).
    """
    if not isinstance(value, str) or not _DEVICE.fullmatch(value):
        from ..config.base import suggest

        word = str(value).strip().lower()
        guess = "cuda" if word == "gpu" else suggest(word, [d for d in DEVICES if d != "cuda:N"])
        hint = f"did you mean {guess!r}? " if guess else ""
        raise ValueError(f"unknown device. Fix: {hint}use one of {', '.join(repr(d) for d in DEVICES)} "
                         "(N: a GPU index)")
    return value


def torch_device(device: str | None) -> str | None:
    """The ``device`` argument of ``SentenceTransformer``: None for ``"auto"`` (it picks), else ``device``."""
    return None if device is None or device == "auto" else device


def require_device(device: str | None, *, file: str | None = None, column: str = "harmonizer.device") -> None:
    """Refuse a device this machine's torch does not have, before any slow work.

    Args:
        device: a checked value (:func:`check_device`), or None (the CPU).
        file, column: where the value was written (named in the error).

    Raises:
        ConfigError: ``"cuda"`` / ``"cuda:N"`` without CUDA (or without GPU N), ``"mps"`` without MPS.
    """
    if device is None or device in ("auto", "cpu"):
        return
    import torch

    fix = 'use device = "cpu" (or "auto": the GPU when there is one), or run where torch sees the device'
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            why = ("this torch was built without CUDA" if torch.version.cuda is None
                   else "torch finds no CUDA GPU on this machine")
            raise ConfigError(f"device {device!r} asked for, but {why}", file=file, column=column, fix=fix)
        index = int(device.split(":")[1]) if ":" in device else 0
        count = torch.cuda.device_count()
        if index >= count:
            raise ConfigError(f"device {device!r} asked for, but torch sees {count} CUDA GPU(s) (0..{count - 1})",
                              file=file, column=column, fix=f'use device = "cuda:0" .. "cuda:{count - 1}"')
    elif device == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' asked for, but torch has no MPS (Apple silicon) device here", file=file,
                          column=column, fix=fix)
