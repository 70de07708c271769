"""Settings of the correction stage."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import ConfigError

Update = Literal["rescore", "refit"]
RetrievalAs = Literal["few_shot", "evidence"]


@dataclass(frozen=True)
class CorrectionConfig:
    """How rows are chosen and how their re-asks are built.

    Selection (see :func:`polarlab.correct.select.select_rows`): candidates are the rows whose
    POLAR risk is above ``threshold`` (all rows when None), further cut to the ``top_fraction``
    riskiest (when set); the riskiest ``budget`` of them are re-asked.

    Attributes:
        threshold: re-ask only answers with risk > threshold (None = no threshold).
        top_fraction: re-ask at most the top ``ceil(top_fraction * n)`` rows by risk.
        budget: the most re-asks: an ``int`` >= 0 is a count, a ``float`` in (0, 1] a fraction
            of the n rows (``floor(budget * n)``); None = no limit beyond the candidates. One
            re-ask = one request for one row, counted whether it is answered by the backend
            or from the cache (so a warm re-run corrects exactly the same rows); content-free
            calibration prompts and backend calls are reported separately, not budgeted.
        include_abstains: rows where the LLM abstained rank as risk 1 (else never selected).
        update: ``"rescore"`` (default: new risk = 1 - h(x)[new answer] with the fitted h;
            h depends only on the features, so it does not change) or ``"refit"`` (fit h again
            on the fitting matrix with the corrected LLM votes, then score).
        fewshot_confirmed: "confirmed" demonstrations per class (LLM agrees with h, low risk).
        fewshot_hard: "hard" demonstrations per class (LLM disagrees with a confident h).
        fewshot_candidates: demonstrations are sampled (seeded) from the best this-many
            candidates of each class and kind.
        confident: the harmonizer's top probability a pool row needs to count as confident
            (hard demonstrations, retrieval); when too few rows reach it, the most confident
            rows are used.
        low_risk: the largest LLM risk of a "confirmed" demonstration.
        retrieval_k: neighbours retrieved per row.
        retrieval_as: ``"few_shot"`` (default: neighbours as demonstrations, nearest last) or
            ``"evidence"`` (one context line per neighbour).
        max_evidence: at most this many rule sentences per request.
        max_demo_chars: demonstration (and retrieved-evidence) texts are cut to this length.
        calibrate: contextual calibration of the re-asks; None = the LLM source's setting.
        seed: sampling seed (demonstrations).
    """

    threshold: float | None = None
    top_fraction: float | None = None
    budget: int | float | None = 0.1
    include_abstains: bool = True
    update: Update = "rescore"
    fewshot_confirmed: int = 1
    fewshot_hard: int = 1
    fewshot_candidates: int = 10
    confident: float = 0.7
    low_risk: float = 0.3
    retrieval_k: int = 4
    retrieval_as: RetrievalAs = "few_shot"
    max_evidence: int = 8
    max_demo_chars: int = 300
    calibrate: bool | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        if self.threshold is not None and not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"risk threshold {self.threshold}", column="correct.threshold",
                              fix="use a number in [0, 1]")
        if self.top_fraction is not None and not 0.0 < self.top_fraction <= 1.0:
            raise ConfigError(f"top_fraction {self.top_fraction}", column="correct.top_fraction",
                              fix="use a fraction in (0, 1]")
        b = self.budget
        if b is not None:
            if isinstance(b, bool) or not isinstance(b, (int, float)):
                raise ConfigError(f"budget {b!r}", column="correct.budget",
                                  fix="give a count (int >= 0) or a fraction of rows (float in (0, 1])")
            if isinstance(b, int) and b < 0:
                raise ConfigError(f"budget {b}", column="correct.budget", fix="use a count >= 0")
            if isinstance(b, float) and not 0.0 < b <= 1.0:
                raise ConfigError(f"budget {b}", column="correct.budget",
                                  fix="a float budget is a fraction of rows in (0, 1]; give an int for a count")
        if self.update not in ("rescore", "refit"):
            raise ConfigError(f"unknown update {self.update!r}", column="correct.update",
                              fix='use "rescore" or "refit"')
        if self.retrieval_as not in ("few_shot", "evidence"):
            raise ConfigError(f"unknown retrieval_as {self.retrieval_as!r}", column="correct.retrieval_as",
                              fix='use "few_shot" or "evidence"')
        for name in ("fewshot_confirmed", "fewshot_hard", "max_evidence"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} = {getattr(self, name)}", column=f"correct.{name}", fix="use >= 0")
        for name in ("fewshot_candidates", "retrieval_k", "max_demo_chars"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} = {getattr(self, name)}", column=f"correct.{name}", fix="use >= 1")


def parse_budget(text: str | int | float | None) -> int | float | None:
    """A budget from text: an integer literal (``"50"``) is a count of re-asks, anything else
    (``"0.2"``, ``"1.0"``) a fraction of rows.

    Raises:
        ConfigError: not a number.
    """
    if text is None or isinstance(text, (int, float)):
        return text
    s = str(text).strip()
    try:
        return int(s)
    except ValueError:
        pass
    try:
        return float(s)
    except ValueError:
        raise ConfigError(f"budget {text!r} is not a number", column="--budget",
                          fix="give a fraction of rows (e.g. 0.2) or a count of re-asks (e.g. 50)") from None
