"""Stage ``data``: load every split (``[data]``), store the examples in the state. Runs every time (reading the
files is how a change is noticed); the examples' content hashes are the inputs of later stages."""
from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from ..state import StageRecord, content_hash
from .base import RunContext, register_stage


def choose_fit_split(splits: dict, preferred: str | None, file: str | None = None) -> str:
    """``preferred`` when given (it must exist), else ``train``, ``valid``, or the first split."""
    if preferred is not None:
        if preferred not in splits:
            raise ConfigError(f"no split {preferred!r}; the splits are {list(splits)}", file=file,
                              column="data.fit_split", fix=f"use one of {list(splits)}")
        return preferred
    for name in ("train", "valid"):
        if name in splits:
            return name
    return next(iter(splits))


class DataStage:
    name = "data"
    always = True

    def wanted(self, ctx: RunContext) -> bool:
        return True

    def config(self, ctx: RunContext) -> Any:
        return ctx.project.data

    def inputs(self, ctx: RunContext) -> dict[str, str]:
        return {}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        p = ctx.project
        ctx.task = p.task
        ctx.splits = p.load_splits()
        empty = [s for s, ds in ctx.splits.items() if len(ds) == 0]
        ctx.fit_split = choose_fit_split(ctx.splits, p.data.get("fit_split"), ctx.file)
        if ctx.fit_split in empty:
            raise ConfigError(f"the fit split {ctx.fit_split!r} has no rows", file=ctx.file, column="data",
                              fix="give the split's file some rows, or choose another fit_split")
        ev = p.data.get("eval_split")
        if ev is not None and ev not in ctx.splits:
            raise ConfigError(f"no split {ev!r}; the splits are {list(ctx.splits)}", file=ctx.file,
                              column="data.eval_split", fix=f"use one of {list(ctx.splits)}")
        ctx.eval_split = ev
        return {"rows": {s: len(ds) for s, ds in ctx.splits.items()}, "fit_split": ctx.fit_split}

    def save(self, ctx: RunContext) -> str:
        hashes = {s: ctx.state.put_examples(s, ds.frame) for s, ds in ctx.splits.items()}
        ctx.hashes.update({f"examples:{s}": h for s, h in hashes.items()})
        return content_hash(hashes)

    def load(self, ctx: RunContext, record: StageRecord) -> bool:  # pragma: no cover - always runs
        return False


register_stage(DataStage())
