"""Threshold schedules of the self-paced rounds: the risk under which items are accepted
automatically, relaxed (raised) round by round (Lin et al. 2017, active self-paced learning).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from ..errors import ConfigError


@dataclass(frozen=True)
class ThresholdSchedule:
    """Acceptance threshold of round t (0-based).

    Args:
        kind: ``"linear"`` (start + t * step), ``"geometric"`` (start * factor ** t) or ``"list"``
            (``values[t]``, the last value repeated).
        start: threshold of round 0.
        step: increase per round (linear).
        factor: growth per round (geometric).
        stop: the threshold never exceeds this.
        values: the thresholds (list).
    """

    kind: str = "linear"
    start: float = 0.05
    step: float = 0.05
    factor: float = 1.5
    stop: float = 0.5
    values: Sequence[float] = ()

    def __post_init__(self) -> None:
        if self.kind not in SCHEDULES:
            raise ConfigError(f"unknown threshold schedule {self.kind!r}", column="review.schedule",
                              fix=f"use one of {sorted(SCHEDULES)}")
        if self.kind == "list" and not self.values:
            raise ConfigError("a list schedule needs values", column="review.values",
                              fix="give values = [0.05, 0.1, 0.2]")
        vals = list(self.values) + [self.start, self.stop]
        if any(not 0.0 <= float(v) <= 1.0 for v in vals):
            raise ConfigError(f"thresholds must lie in [0, 1], got {vals}", column="review.schedule",
                              fix="thresholds are risks: use numbers between 0 and 1")
        if self.kind == "list" and max(float(v) for v in self.values) > float(self.stop):
            # they were cut to stop (default 0.5) without a word: values = [0.1, 0.7] ran 0.1, 0.5
            raise ConfigError(f"list thresholds {list(self.values)} exceed stop={self.stop}", column="review.values",
                              fix=f"set stop >= {max(float(v) for v in self.values)} (or leave the values under it)")

    def __call__(self, t: int) -> float:
        return min(float(SCHEDULES[self.kind](self, int(t))), float(self.stop))


SCHEDULES: dict[str, Callable[[ThresholdSchedule, int], float]] = {
    "linear": lambda s, t: s.start + t * s.step,
    "geometric": lambda s, t: s.start * s.factor ** t,
    "list": lambda s, t: s.values[min(t, len(s.values) - 1)],
}


def parse_schedule(text: str) -> ThresholdSchedule:
    """``linear:START:STEP:STOP``, ``geometric:START:FACTOR:STOP`` or ``list:T1,T2,...`` (the CLI's ``--schedule``)."""
    kind, _, rest = text.partition(":")
    try:
        if kind == "list":
            values = [float(v) for v in rest.split(",") if v.strip()]
            return ThresholdSchedule("list", values=values, stop=max(values, default=1.0))
        a, b, c = (float(v) for v in rest.split(":"))
    except ValueError:
        raise ConfigError(f"cannot read the schedule {text!r}", column="--schedule",
                          fix="write linear:0.05:0.05:0.5, geometric:0.05:1.5:0.5 or list:0.05,0.1,0.2") from None
    if kind == "linear":
        return ThresholdSchedule("linear", start=a, step=b, stop=c)
    if kind == "geometric":
        return ThresholdSchedule("geometric", start=a, factor=b, stop=c)
    raise ConfigError(f"unknown threshold schedule {kind!r}", column="--schedule",
                      fix=f"use one of {sorted(SCHEDULES)}")
