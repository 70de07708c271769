"""What is asked of an LLM (:class:`PromptRequest`) and what comes back (:class:`Answer`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..data.dataset import Example

from ..constants import ABSTAIN  # noqa: E402  (defined once)


@dataclass(frozen=True)
class PromptRequest:
    """One question to an LLM about one example.

    The later error-correction stage re-asks risky examples by filling the optional fields.

    Attributes:
        example: the example to label (relation tasks also show ``entity1``/``entity2``).
        few_shot: demonstrations ``(example, label index)`` shown before the example, in order.
            They are part of the prompt's shared prefix, whose evaluation the embedded backend
            reuses across requests with the same demonstrations.
        evidence: extra context lines shown with the example (e.g. the sentences of rules
            that fired, retrieved neighbours with their labels).
        previous_answer: a label index the model gave before; when set, the prompt shows it
            and asks the model to confirm or revise it (self-verification).
        tag: free text for the caller (e.g. the example id, "self-verify"); not part of the
            prompt, not part of the cache key.
    """

    example: Example
    few_shot: tuple[tuple[Example, int], ...] = ()
    evidence: tuple[str, ...] = ()
    previous_answer: int | None = None
    tag: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "few_shot", tuple((ex, int(y)) for ex, y in self.few_shot))
        object.__setattr__(self, "evidence", tuple(str(e) for e in self.evidence))


@dataclass
class Answer:
    """An LLM's answer to one :class:`PromptRequest`.

    Attributes:
        label: class index, or -1 (abstain: no label named, "unsure", empty or malformed
            reply, or a call that failed).
        proba: shape (k,), the (calibrated, when calibration is on) distribution over labels;
            all NaN when there is none (generation mode, or a failed call).
        raw: the model's raw text (scoring mode: the reply text when the backend gives one,
            else the highest-scoring verbalizer).
        cached: True when the answer came from the cache (no backend call).
        tag: the request's tag.
        key: the cache key (hash of model id + parameters + full prompt).
        proba_uncalibrated: shape (k,), the distribution before calibration (NaN if none).
        truncated: the example text was cut to fit the context.
        error: why the call failed (the answer is then an abstain and is not cached), else None.
        mode: "scoring" or "generation" — the mode the answer was actually produced in
            (a server without log-probs turns scoring into generation).
    """

    label: int
    proba: np.ndarray
    raw: str
    cached: bool
    tag: str = ""
    key: str = ""
    proba_uncalibrated: np.ndarray | None = None
    truncated: bool = False
    error: str | None = None
    mode: str = "scoring"
    extra: dict = field(default_factory=dict)
