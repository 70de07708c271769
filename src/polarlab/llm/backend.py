"""What an LLM backend does for the LLM source, whatever runs the model."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from .prompt import RenderedPrompt


@dataclass
class BackendReply:
    """One backend call's result.

    Attributes:
        text: the reply text ("" when the reply was empty or malformed).
        dist: shape (k,), the label distribution (scoring mode; sums to 1), or None
            (generation mode, or the backend gave no log-probs).
        tokens_in: prompt tokens (as counted by the backend / server).
        tokens_out: generated tokens.
        seconds: time spent in the call (retries and backoff included).
        status: "ok", "malformed" (empty/unparseable reply: answered as abstain), or
            "no_logprobs" (scoring asked, but only text came back: parsed as generation).
        retries: extra attempts made after retryable errors.
        extra: backend-specific details (JSON-able), e.g. ``label_mass``.
    """

    text: str
    dist: np.ndarray | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    status: str = "ok"
    retries: int = 0
    extra: dict | None = None


@runtime_checkable
class Backend(Protocol):
    """An LLM that can score label words after a prompt, or generate an answer.

    Attributes:
        model_id: identifies the model in cache keys (file fingerprint, or server model name).
        max_concurrency: how many calls may run at once (1 for the embedded model).
        max_prompt_tokens: prompt budget in tokens (None = unlimited / unknown).
    """

    model_id: str
    max_concurrency: int
    max_prompt_tokens: int | None

    def params(self, mode: str) -> dict:
        """JSON-able parameters that change answers (part of the cache key; never secrets)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens of prompt ``text`` (exact for the embedded model, estimated for servers)."""
        ...

    def score(self, prompt: RenderedPrompt, words: tuple[str, ...]) -> BackendReply:
        """Distribution over ``words`` (the k answer words) as the model's next answer."""
        ...

    def generate(self, prompt: RenderedPrompt) -> BackendReply:
        """Greedy free-text answer (``dist`` None)."""
        ...
