"""Run a list of stages over one :class:`RunContext`, skipping those whose config and inputs are unchanged."""
from __future__ import annotations

import logging
import time
from typing import Sequence

from .base import STAGES, RunContext, StageReport, stage_config_hash, stale_reason

log = logging.getLogger(__name__)


def _why(ctx: RunContext, name: str, config_hash: str, inputs: dict[str, str]) -> str:
    rec = ctx.state.stage(name)
    if rec is None:
        return "first run"
    why, _ = stale_reason(rec, config_hash, inputs)
    return why or "outputs missing from the state"


def run_stages(names: Sequence[str], ctx: RunContext) -> list[StageReport]:
    """Run the stages ``names`` (keys of :data:`STAGES`) in order.

    A stage whose config hash (its config section and polarlab's code, :func:`~polarlab.stages.base.stage_config_hash`)
    and input hashes equal those of its last completed record is skipped and its
    outputs loaded from the state; otherwise it runs, and its outputs and record are committed in one
    transaction. Every decision goes to ``ctx.log`` and the state's stage log.
    """
    out = []
    for name in names:
        stage = STAGES[name]
        if not stage.wanted(ctx):
            continue
        t = time.perf_counter()
        config_hash = stage_config_hash(stage, ctx)
        inputs = stage.inputs(ctx)
        rec = ctx.state.stage(name)
        if (not getattr(stage, "always", False) and ctx.state.is_current(name, config_hash, inputs)
                and rec is not None and stage.load(ctx, rec)):
            ctx.hashes[name] = rec.output_hash
            report = StageReport(name, "skipped", time.perf_counter() - t, "config, inputs and code unchanged",
                                 rec.report)
        else:
            reason = "runs every time" if getattr(stage, "always", False) else _why(ctx, name, config_hash, inputs)
            log.info("stage %s: running (%s)", name, reason)
            try:
                result = stage.run(ctx)
            except BaseException:
                ctx.state.log_stage(ctx.run_id, name, "failed", time.perf_counter() - t, reason)
                raise
            seconds = time.perf_counter() - t
            with ctx.state.transaction():
                output_hash = stage.save(ctx)
                ctx.state.record_stage(name, config_hash=config_hash, inputs=inputs, output_hash=output_hash,
                                       seconds=seconds, report=result)
            ctx.hashes[name] = output_hash
            report = StageReport(name, "ran", seconds, reason, result)
        ctx.state.log_stage(ctx.run_id, name, report.action, report.seconds, report.reason)
        ctx.log.append(report)
        out.append(report)
    return out
