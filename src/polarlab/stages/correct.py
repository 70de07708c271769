"""Stage ``correct``: re-ask the riskiest LLM answers (``[correct]``) and replace them in the matrices.

Every changed answer is stored as a vote event (``kind = "correction"``, the strategy, the previous answer),
so the state keeps the provenance; re-running the stage first removes the events of its previous run.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..config.models import HARMONIZER_METHOD
from ..state import StageRecord, content_hash
from .base import RunContext, register_stage
from .harmonizer import fitted_harmonizer, leave_out_distributions
from .human import HUMAN_SOURCE, apply_human

REFIT_PROBA = "polar@correct"       # the final distribution after update = "refit", or of the corrected votes
CORRECTED_LEAVE_OUT = "polar@correct-without:"   # ... with one LLM's own vote left out (its risk)


def all_sources(ctx: RunContext) -> list:
    """Every source object, in matrix order (building those the sources stage did not need this run)."""
    from ..sources.config import sources_from_config

    names = [n for n in ctx.matrices[ctx.fit_split].names if n != HUMAN_SOURCE]   # reviewers are not re-asked
    missing = [n for n in names if n not in ctx.sources]
    if missing:
        built = sources_from_config(ctx.project.sources, base_dir=ctx.project.base_dir, state_dir=ctx.state_dir,
                                    sample=ctx.splits[ctx.fit_split], file=ctx.file, task=ctx.project.task)
        for s in built:
            ctx.sources.setdefault(s.name, s)
    return [ctx.sources[n] for n in names]


class CorrectStage:
    name = "correct"

    def wanted(self, ctx: RunContext) -> bool:
        return bool(ctx.project.correct) and HARMONIZER_METHOD in ctx.probas

    def config(self, ctx: RunContext) -> Any:
        return ctx.project.correct

    def inputs(self, ctx: RunContext) -> dict[str, str]:
        return {"matrix": ctx.hashes["matrix"], "features": ctx.hashes["features"],
                "harmonizer": ctx.hashes["harmonizer"]}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from ..pipeline import correct_step, decide_votes

        self._before = {s: m for s, m in ctx.matrices.items()}
        refit = ctx.project.correct.get("update") == "refit"
        harmonizer = fitted_harmonizer(ctx) if refit else ctx.harmonizer
        matrices, report, audit, refitted = correct_step(
            ctx.project.correct, ctx.splits, ctx.matrices, ctx.features, ctx.probas[HARMONIZER_METHOD],
            ctx.fit_split, ctx.task, all_sources(ctx), file=ctx.file, harmonizer=harmonizer)
        ctx.matrices = matrices
        if refitted is not None:
            ctx.harmonizer, ctx.probas[HARMONIZER_METHOD] = refitted
        combined = bool(ctx.extra.get("leave_out"))
        if combined:      # the final output reads the votes: score the corrected ones (risk: own vote left out)
            decided = decide_votes(fitted_harmonizer(ctx), ctx.matrices, ctx.features)
            ctx.probas[HARMONIZER_METHOD] = {s: decided[s].predict_proba(m.L, ctx.features[s])
                                             for s, m in ctx.matrices.items()}
            ctx.extra["leave_out"] = leave_out_distributions(ctx, decided)
        human = ctx.extra.get("human") or {}
        if human and (refitted is not None or combined):   # reviewed rows keep their human label (stages/human.py)
            ctx.probas[HARMONIZER_METHOD] = {s: apply_human(P, human[s]) if s in human else P
                                             for s, P in ctx.probas[HARMONIZER_METHOD].items()}
        ctx.extra["report"]["correction"] = report
        ctx.extra["audit"] = audit
        return {"correction": report, "refit": refitted is not None or combined,
                "audit": {k: f.to_dict(orient="list") for k, f in audit.items()}}

    def save(self, ctx: RunContext) -> str:
        st = ctx.state
        st.clear_vote_events(kind="correction")
        strategy = ctx.project.correct.get("strategy")
        events, parts = [], []
        for split, after in ctx.matrices.items():
            before = self._before[split]
            for name in after.probas:
                j = after.names.index(name)
                changed = np.flatnonzero(after.L[:, j] != before.L[:, j])
                events += [{"split": split, "example_id": after.ids[i], "source": name, "value": int(after.L[i, j]),
                            "previous": int(before.L[i, j]), "kind": "correction", "strategy": strategy}
                           for i in changed]
                st.put_distribution(f"correct:{name}", split, after.probas[name], key=self.name)
                parts.append(content_hash(after.L[:, j], after.probas[name]))
        st.add_vote_events(events)
        if ctx.project.correct.get("update") == "refit" or ctx.extra.get("leave_out"):
            for split, P in ctx.probas[HARMONIZER_METHOD].items():
                st.put_distribution(REFIT_PROBA, split, P, key=self.name)
            for (name, split), P in ctx.extra.get("leave_out", {}).items():
                st.put_distribution(f"{CORRECTED_LEAVE_OUT}{name}", split, P, key=self.name)
        ctx.hashes["matrix"] = content_hash(ctx.hashes["matrix"], parts)
        return content_hash(parts, [ctx.probas[HARMONIZER_METHOD][s] for s in ctx.splits])

    def load(self, ctx: RunContext, record: StageRecord) -> bool:
        st = ctx.state
        events = st.vote_events(kind="correction")
        out, parts = {}, []
        for split, m in ctx.matrices.items():
            L = m.L.copy()
            probas = dict(m.probas)
            pos = {i: r for r, i in enumerate(m.ids)}
            for e in events[events["split"] == split].itertuples():
                L[pos[e.example_id], m.names.index(e.source)] = e.value
            for name in m.probas:
                P = st.distribution(f"correct:{name}", split)
                if P is None:
                    return False
                probas[name] = P
                parts.append(content_hash(L[:, m.names.index(name)], P))
            out[split] = type(m)(L=L, names=list(m.names), ids=list(m.ids), n_classes=m.n_classes, probas=probas,
                                 failures=list(m.failures))
        if record.report.get("refit"):
            got = st.distributions(REFIT_PROBA)
            if set(got) != set(ctx.splits):
                return False
            ctx.probas[HARMONIZER_METHOD] = {s: got[s] for s in ctx.splits}
            stored = {(m[len(CORRECTED_LEAVE_OUT):], s): P for m in st.methods() if m.startswith(CORRECTED_LEAVE_OUT)
                      for s, P in st.distributions(m).items()}
            if stored:
                ctx.extra["leave_out"] = stored
        ctx.matrices = out
        ctx.hashes["matrix"] = content_hash(ctx.hashes["matrix"], parts)
        ctx.extra["report"]["correction"] = record.report.get("correction", {})
        ctx.extra["audit"] = {k: pd.DataFrame(v) for k, v in record.report.get("audit", {}).items()}
        return True


register_stage(CorrectStage())
