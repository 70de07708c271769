"""Stage ``sources``: apply every ``[[sources]]`` table to every split; the label matrices.

Each table has a key: the hash of the table, the task, every split's examples and the files it reads (a
``python`` file, a dictionary ``file``). A table whose key equals the one stored with its votes is not
applied again (its votes are read from the state); so changing one keyword source re-applies that source
only, and an unchanged project makes no LLM call. Each table's votes are committed as soon as they are
computed, so a run killed in the middle keeps the sources already applied.
"""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError
from ..llm.errors import LLMConfigError
from ..matrix.analysis import analyze
from ..matrix.label_matrix import LabelMatrix, SourceFailure
from ..state import StageRecord, content_hash
from .base import RunContext, register_stage
from .human import HUMAN_SOURCE, HumanColumn, human_columns, human_key

FILE_KEYS = ("file", "gguf")
NOT_IN_KEY = ("progress",)          # settings that do not change a source's votes


def _file_hash(base: Path, value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    p = Path(value)
    p = p if p.is_absolute() else base / p
    try:
        return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None
    except OSError:
        return None


def table_key(ctx: RunContext, table: dict[str, Any]) -> str:
    """What a table's votes depend on: the table, the task, the examples, the files it names."""
    t = ctx.task
    files = {k: _file_hash(ctx.project.base_dir, table.get(k)) for k in FILE_KEYS if k in table}
    examples = {s: ctx.hashes.get(f"examples:{s}") for s in ctx.splits}
    table = {k: v for k, v in table.items() if k not in NOT_IN_KEY}
    return content_hash(table, [t.labels, t.kind, t.instruction, t.verbalizers, t.entity_columns], examples, files)


class SourcesStage:
    name = "sources"

    def wanted(self, ctx: RunContext) -> bool:
        return True

    def config(self, ctx: RunContext) -> Any:
        return []        # each table is an input (below), so a change is seen table by table

    def inputs(self, ctx: RunContext) -> dict[str, str]:
        out = {f"sources[{i}]": table_key(ctx, t) for i, t in enumerate(ctx.project.sources)}
        human = self._human(ctx)
        if human:                   # only when someone answered: a project without reviews keeps its inputs
            out["human"] = human_key(human)
        return out

    def _human(self, ctx: RunContext) -> dict[str, HumanColumn]:
        """The human answers per split (read once per run; ``ctx.extra["human"]``)."""
        if "human" not in ctx.extra:
            ctx.extra["human"] = human_columns(ctx.state, {s: list(ds.ids) for s, ds in ctx.splits.items()})
        return ctx.extra["human"]

    # -------------------------------------------------------------------------------------------
    def _stored_names(self, ctx: RunContext, key: str) -> list[str]:
        """The sources whose votes are stored with ``key`` on the fit split: a table applied by a run stopped
        before this stage ended (votes are committed table by table, the stage's record only at its end) is
        found here, so the next run reuses it instead of applying it again."""
        fit = ctx.fit_split
        return [n for n in ctx.state.sources(fit) if ctx.state.source_key(fit, n) == key]

    def _reusable(self, ctx: RunContext, key: str, names: list[str]) -> bool:
        return bool(names) and all(ctx.state.source_key(s, n) == key for s in ctx.splits for n in names)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from ..sources.config import check_source_columns, sources_from_config

        data = ctx.project.data
        check_source_columns(ctx.project.sources, ctx.splits, ctx.file,
                             text_column=data.get("text_column") or ctx.task.text_column,
                             label_column=data.get("label_column"))
        prev = ctx.state.stage(self.name)
        prev_tables = (prev.report.get("tables") if prev else None) or []
        known = {t["key"]: t["names"] for t in prev_tables}
        tables, applied, reused, position = [], [], [], 0
        sample = ctx.splits[ctx.fit_split]
        seen: set[str] = set()
        for i, table in enumerate(ctx.project.sources):
            key = table_key(ctx, table)
            names = known.get(key) or self._stored_names(ctx, key)
            if self._reusable(ctx, key, names):
                reused.extend(names)
            else:
                built = sources_from_config([table], base_dir=ctx.project.base_dir, state_dir=ctx.state_dir,
                                            sample=sample, file=ctx.file, offset=i, task=ctx.project.task)
                for s in built:
                    s_where = f"sources[{i}]"
                    if s.name == HUMAN_SOURCE:
                        raise ConfigError(f"source name {s.name!r} is kept for the reviewers' answers", file=ctx.file,
                                          column=s_where, fix="give the source another name")
                    if s.name in seen:
                        raise ConfigError(f"duplicate source name {s.name!r}", file=ctx.file, column=s_where,
                                          fix="give every source a unique name")
                    ctx.sources[s.name] = s
                names = [s.name for s in built]
                for split, ds in ctx.splits.items():
                    try:
                        lm = ctx.get_engine().apply_sources(ds, built, ctx.task)
                    except LLMConfigError as e:   # a server's key (base_url, model): named under its source table
                        if e.file is not None or (e.column or "").startswith("sources"):
                            raise
                        raise type(e)(e.message, file=ctx.file, row=e.row, line=e.line, fix=e.fix,
                                      column=f"sources[{i}]" + (f".{e.column}" if e.column else "")) from None
                    with ctx.state.transaction():
                        for j, name in enumerate(names):
                            fails = [f.__dict__ for f in lm.failures if f.source == name]
                            ctx.state.put_source_votes(split, name, lm.L[:, j], lm.probas.get(name), key=key,
                                                       position=position + j, info={"failures": fails})
                applied.extend(names)
            dup = seen.intersection(names)
            if dup:
                raise ConfigError(f"duplicate source name {sorted(dup)[0]!r}", file=ctx.file,
                                  column=f"sources[{i}]", fix="give every source a unique name")
            seen.update(names)
            tables.append({"key": key, "names": names})
            position += len(names)
        for split in ctx.splits:
            ctx.state.drop_sources(split, keep=list(seen))
        self._assemble(ctx, tables)
        return {"tables": tables, "applied": applied, "reused": reused}

    def _assemble(self, ctx: RunContext, tables: list[dict[str, Any]]) -> bool:
        names = [n for t in tables for n in t["names"]]
        ctx.matrices = {}
        for split, ds in ctx.splits.items():
            cols, probas, failures = [], {}, []
            for n in names:
                sv = ctx.state.source_votes(split, n)
                if sv is None or len(sv.votes) != len(ds):
                    return False
                cols.append(sv.votes)
                if sv.proba is not None:
                    probas[n] = sv.proba
                failures.extend(SourceFailure(**f) for f in sv.info.get("failures", []))
            human = self._human(ctx)
            if human:               # the reviewed labels, one more column (see stages/human.py)
                cols.append(human[split].votes)
            L = np.column_stack(cols) if cols else np.zeros((len(ds), 0), dtype=np.int64)
            ctx.matrices[split] = LabelMatrix(L=L, names=list(names) + ([HUMAN_SOURCE] if human else []),
                                              ids=ds.ids, n_classes=ctx.task.n_classes, probas=probas,
                                              failures=failures)
        human = self._human(ctx)
        ctx.hashes["matrix"] = content_hash([t["key"] for t in tables], names,
                                            *([human_key(human)] if human else []))
        fit = ctx.splits[ctx.fit_split]
        ctx.analysis = analyze(ctx.matrices[ctx.fit_split], fit.gold if fit.has_gold else None)
        return True

    def save(self, ctx: RunContext) -> str:
        return ctx.hashes["matrix"]

    def load(self, ctx: RunContext, record: StageRecord) -> bool:
        tables = record.report.get("tables") or []
        if not all(self._reusable(ctx, t["key"], t["names"]) for t in tables):
            return False
        return self._assemble(ctx, tables)


register_stage(SourcesStage())
