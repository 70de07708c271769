"""Stage ``risk``: the POLAR risk of every LLM answer, 1 - h(x)[answer], per split (NaN where the LLM
abstained), stored in the state; its calibration where gold exists (reporting only). Cheap: runs every time."""
from __future__ import annotations

from typing import Any

from ..config.models import HARMONIZER_METHOD
from ..state import StageRecord, content_hash
from .base import RunContext, register_stage


class RiskStage:
    name = "risk"
    always = True

    def wanted(self, ctx: RunContext) -> bool:
        return HARMONIZER_METHOD in ctx.probas

    def config(self, ctx: RunContext) -> Any:
        return {}

    def inputs(self, ctx: RunContext) -> dict[str, str]:
        return {"matrix": ctx.hashes["matrix"], "harmonizer": ctx.hashes.get("correct", ctx.hashes["harmonizer"])}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from ..pipeline import risk_outputs

        # the final distribution with the LLM's own vote left out (harmonizer stage; after a refit, the correct stage)
        stored = ctx.extra.get("leave_out", {})
        leave_out = None
        if stored:
            def leave_out(split: str, j: int) -> "object":
                return stored[(ctx.matrices[split].names[j], split)]
        ctx.extra["columns"], ctx.extra["report"]["risk"] = risk_outputs(ctx.matrices, ctx.probas[HARMONIZER_METHOD],
                                                                         ctx.splits, leave_out)
        return {"sources": sorted(ctx.extra["columns"])}

    def save(self, ctx: RunContext) -> str:
        parts = []
        for column, per_split in ctx.extra["columns"].items():
            for split, risk in per_split.items():
                ctx.state.put_risk(column[len("risk_"):], split, risk)
                parts.append(content_hash(risk))
        return content_hash(parts)

    def load(self, ctx: RunContext, record: StageRecord) -> bool:  # pragma: no cover - always runs
        return False


register_stage(RiskStage())
