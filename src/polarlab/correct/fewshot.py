"""Auto few-shot: demonstrations chosen from the pool by POLAR score, labelled by the harmonizer."""
from __future__ import annotations

import numpy as np

from ..data.dataset import Example
from .config import CorrectionConfig
from .pool import DemoPool


def auto_few_shot_rows(pool: DemoPool, n_classes: int, config: CorrectionConfig) -> list[tuple[int, int]]:
    """Pool rows to show, with their harmonized labels.

    Per class c (the harmonizer's label), two kinds:

    - *confirmed*: the LLM voted c, h agrees, LLM risk <= ``config.low_risk``; lowest risk first.
    - *hard*: the LLM voted something else (or abstained), h is confident
      (top probability >= ``config.confident``); highest LLM risk first.

    ``config.fewshot_confirmed`` / ``config.fewshot_hard`` rows of each kind are sampled (seeded)
    from the best ``config.fewshot_candidates`` candidates; a class with too few candidates
    gets fewer. The demonstrations are returned in one seeded shuffled order (no class last
    every time), a row at most once.

    Returns:
        list of (pool row, label), length <= k * (fewshot_confirmed + fewshot_hard).
    """
    rng = np.random.default_rng(config.seed)
    h, conf, votes = pool.hlabel, pool.hconf, pool.votes
    risk = np.where(np.isnan(pool.risk), 1.0, pool.risk)
    chosen: list[tuple[int, int]] = []
    used: set[int] = set()
    for c in range(n_classes):
        confirmed = np.flatnonzero((h == c) & (votes == c) & (risk <= config.low_risk))
        confirmed = confirmed[np.lexsort((confirmed, risk[confirmed]))]
        hard = np.flatnonzero((h == c) & (votes != c) & (conf >= config.confident))
        hard = hard[np.lexsort((hard, -risk[hard]))]
        for cands, n in ((confirmed, config.fewshot_confirmed), (hard, config.fewshot_hard)):
            cands = np.array([i for i in cands[:config.fewshot_candidates] if int(i) not in used], dtype=np.int64)
            if n == 0 or cands.size == 0:
                continue
            pick = np.sort(rng.choice(cands.size, size=min(n, cands.size), replace=False))
            for i in cands[pick]:
                chosen.append((int(i), c))
                used.add(int(i))
    order = rng.permutation(len(chosen))
    return [chosen[j] for j in order]


def auto_few_shot(pool: DemoPool, n_classes: int, config: CorrectionConfig) -> tuple[tuple[Example, int], ...]:
    """:func:`auto_few_shot_rows` as ``(Example, label)`` demonstrations (texts clipped)."""
    return tuple((pool.demo(i, config.max_demo_chars), y)
                 for i, y in auto_few_shot_rows(pool, n_classes, config))
