"""Accounting of one LLM run: calls, cache hits, tokens, time, money."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass
class LLMRunStats:
    """What one ``apply``/``ask`` run cost.

    Attributes:
        requests: prompts asked for (including content-free calibration prompts).
        calls: backend calls made (cache misses that reached the model; retries not counted).
        cache_hits: prompts answered from the cache (or duplicates within the run).
        retries: extra attempts after retryable errors (429, 5xx, timeouts).
        failures: prompts whose calls failed for good (answered as abstain, not cached).
        tokens_in: prompt tokens of the calls made.
        tokens_out: completion tokens of the calls made.
        seconds: wall time of the run.
        model_seconds: summed time spent inside backend calls.
        cost: money spent, ``tokens_in/1000*price_in + tokens_out/1000*price_out``, or None
            when no price is configured.
        truncated: prompts whose example text was cut to fit the context.
        abstained: answers that are abstains.
        logprobs_fallback: the backend gave no log-probabilities, so scoring mode fell back
            to generation mode (parsed text) for some answers.
        fallback_answers: how many answers that fallback produced.
        template: how the prompt reached the model (e.g. "the GGUF's chat template", "none (raw
            prompt on /completions)"), as the backend reports it.
    """

    requests: int = 0
    calls: int = 0
    cache_hits: int = 0
    retries: int = 0
    failures: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    seconds: float = 0.0
    model_seconds: float = 0.0
    cost: float | None = None
    truncated: int = 0
    abstained: int = 0
    logprobs_fallback: bool = False
    fallback_answers: int = 0
    template: str = ""

    def price(self, price_in_per_1k: float | None, price_out_per_1k: float | None) -> None:
        """Set :attr:`cost` from per-1k-token prices (None leaves it None)."""
        if price_in_per_1k is None and price_out_per_1k is None:
            self.cost = None
            return
        self.cost = (self.tokens_in / 1000.0 * (price_in_per_1k or 0.0)
                     + self.tokens_out / 1000.0 * (price_out_per_1k or 0.0))

    def add(self, other: "LLMRunStats") -> None:
        """Accumulate ``other`` into this one (for totals over several runs)."""
        for k in ("requests", "calls", "cache_hits", "retries", "failures", "tokens_in",
                  "tokens_out", "seconds", "model_seconds", "truncated", "abstained",
                  "fallback_answers"):
            setattr(self, k, getattr(self, k) + getattr(other, k))
        if other.cost is not None:
            self.cost = (self.cost or 0.0) + other.cost
        self.logprobs_fallback = self.logprobs_fallback or other.logprobs_fallback
        self.template = other.template or self.template

    def to_dict(self) -> dict:
        return asdict(self)


TOTAL_KEYS = ("calls", "cache_hits", "tokens_in", "tokens_out", "cost")


def totals_over_runs(reports) -> dict[str, dict[str, float]]:
    """Per LLM source, :data:`TOTAL_KEYS` summed over run reports (each a JSON text or dict whose ``"llm"`` maps a
    source to its :class:`LLMRunStats` dict, as the project state's ``runs`` table stores them): what the project
    has spent so far, where one run's figures say only what that run asked (0 calls when it was all cached)."""
    import json

    out: dict[str, dict[str, float]] = {}
    for rep in reports:
        rep = json.loads(rep) if isinstance(rep, str) else (rep or {})
        for src, st in (rep.get("llm") or {}).items():
            acc = out.setdefault(src, {k: (0.0 if k == "cost" else 0) for k in TOTAL_KEYS})
            for k in acc:
                acc[k] += st.get(k) or 0
    return out
