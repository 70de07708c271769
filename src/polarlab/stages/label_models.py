"""Stage ``label_models``: fit each baseline of ``[labelmodel] methods`` (all but ``polar``) on the fit split's
matrix and store its (n, k) distributions for every split."""
from __future__ import annotations

from typing import Any

from ..config.models import HARMONIZER_METHOD
from ..state import StageRecord, content_hash
from .base import RunContext, register_stage


def baseline_methods(ctx: RunContext) -> list[str]:
    return [m for m in ctx.project.labelmodel.get("methods", DEFAULT_METHODS) if m != HARMONIZER_METHOD]


DEFAULT_METHODS = ("mv", "snorkel", "dawid_skene", HARMONIZER_METHOD)


class LabelModelsStage:
    name = "label_models"

    def wanted(self, ctx: RunContext) -> bool:
        return bool(baseline_methods(ctx))

    def config(self, ctx: RunContext) -> Any:
        return {"methods": baseline_methods(ctx), "options": ctx.project.labelmodel.get("options", {}),
                "fit_split": ctx.fit_split, "n_classes": ctx.task.n_classes}

    def inputs(self, ctx: RunContext) -> dict[str, str]:
        return {"matrix": ctx.hashes["matrix"]}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from ..pipeline import fit_label_models

        methods = baseline_methods(ctx)
        fitted = fit_label_models(methods, ctx.matrices, ctx.fit_split, ctx.task,
                                  ctx.project.labelmodel.get("options"))
        ctx.probas.update(fitted)
        return {"methods": methods}

    def save(self, ctx: RunContext) -> str:
        keys = []
        for m in baseline_methods(ctx):
            for split, P in ctx.probas[m].items():
                ctx.state.put_distribution(m, split, P, key=self.name)
                keys.append(content_hash(P))
        return content_hash(keys)

    def load(self, ctx: RunContext, record: StageRecord) -> bool:
        for m in baseline_methods(ctx):
            got = ctx.state.distributions(m)
            if set(got) != set(ctx.splits):
                return False
            ctx.probas[m] = {s: got[s] for s in ctx.splits}
        return True


register_stage(LabelModelsStage())
