"""Stage ``data``: load every split (``[data]``), store the examples in the state. Runs every time (reading the
files is how a change is noticed); the examples' content hashes are the inputs of later stages."""
from __future__ import annotations

import warnings
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


def scored_splits(splits: dict, fit_split: str, eval_split: str | None) -> list[str]:
    """The splits the user asked to score: ``[data] eval_split`` when given, else ``test`` (when it is not the
    fit split). Metrics are computed on every split with gold; these are the ones a missing gold is news for."""
    if eval_split is not None:
        return [eval_split]
    return ["test"] if "test" in splits and fit_split != "test" else []


def warn_unscored(splits: dict, fit_split: str, eval_split: str | None, data: dict[str, Any]) -> list[str]:
    """One warning per split in :func:`scored_splits` that has no gold label at all: it gets no metrics and
    no risk calibration, which would otherwise pass unnoticed. The warning names the split and how to add
    gold (``[data] label_column``, or WRENCH's ``"label"`` key). Returns the splits warned about.

    Not when no split has gold and ``label_column`` is given: :func:`polarlab.project._warn_if_no_gold` already
    says that the column gives no gold anywhere."""
    if data.get("label_column") and not any(ds.has_gold for ds in splits.values()):
        return []
    out = []
    for name in scored_splits(splits, fit_split, eval_split):
        ds = splits[name]
        if len(ds) == 0 or ds.has_gold:
            continue
        if "wrench" in data:
            how = f'give its rows a gold "label" (class id; -1 = none) in {data["wrench"]}/{name}.json'
        elif data.get("label_column"):
            how = f"give its file a {data['label_column']!r} column (the [data] label_column) with the gold labels"
        else:
            how = ('give its file a "label" column with the gold labels, or name the gold column with '
                   '[data] label_column')
        why = "[data] eval_split" if eval_split is not None else "the test split"
        warnings.warn(f"split {name!r} ({why}) has no gold label, so it is not scored (no metrics, no risk "
                      f"calibration); to score it, {how}", UserWarning, stacklevel=2)
        out.append(name)
    return out


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
        warn_unscored(ctx.splits, ctx.fit_split, ev, p.data)
        return {"rows": {s: len(ds) for s, ds in ctx.splits.items()}, "fit_split": ctx.fit_split}

    def save(self, ctx: RunContext) -> str:
        hashes = {s: ctx.state.put_examples(s, ds.frame) for s, ds in ctx.splits.items()}
        ctx.hashes.update({f"examples:{s}": h for s, h in hashes.items()})
        return content_hash(hashes)

    def load(self, ctx: RunContext, record: StageRecord) -> bool:  # pragma: no cover - always runs
        return False


register_stage(DataStage())
