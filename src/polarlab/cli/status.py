"""``polarlab status PROJECT``: what has run, when, with which config, what is stale, counts, LLM calls and cost.

Reads the project state without changing it (the data files are read to notice changes).
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from ..project import Project
    from ..stages.base import RunContext, Stage
    from ..state import ProjectState
    from ..state.store import StageRecord


def project_status(project_path: Path) -> dict[str, Any]:
    """The status as a JSON-able dict (what the command prints).

    Keys: ``state_dir``, ``runs`` (count, last: started, status, seconds), ``splits`` (rows per split),
    ``stages`` (name -> {status: current | stale | never ran | not used, why, finished, seconds, config_hash}),
    ``last_sources`` (applied / reused in the last run of the sources stage), ``stale_sources`` (tables changed
    since they were applied), ``vote_events`` (count per kind), ``llm`` (per LLM source: calls, cache hits,
    tokens, cost, summed over every run).
    """
    from ..llm.stats import totals_over_runs
    from ..project import load_project, validate_project
    from ..state import ProjectState

    project = load_project(project_path)
    validate_project(project)
    state = ProjectState(project.state_dir, readonly=True)
    ctx = _read_data(project, state)
    stages, stale_sources = _stage_statuses(ctx, state)
    runs = state.runs()
    ev = state.vote_events()
    sources_rec = state.stage("sources")
    out = {
        "project": str(project.path), "state_dir": str(project.state_dir),
        "runs": {"count": int(len(runs)), "last": _last_run(runs)},
        "splits": state.counts(),
        "stages": stages,
        "last_sources": {k: (sources_rec.report.get(k) if sources_rec else []) for k in ("applied", "reused")},
        "stale_sources": stale_sources,
        "vote_events": {k: int(v) for k, v in ev["kind"].value_counts().items()} if len(ev) else {},
        "llm": totals_over_runs(runs["report"]),
    }
    state.close()
    return out


def _utc(t: float) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def _read_data(project: "Project", state: "ProjectState") -> "RunContext":
    """A run context with the project's splits read (the data stage) and their hashes set, as a run would."""
    from ..stages import STAGES, RunContext
    from ..state.artifacts import frame_bytes, sha256

    ctx = RunContext(project=project, state=state, progress=False)
    STAGES["data"].run(ctx)
    for split, ds in ctx.splits.items():
        ctx.hashes[f"examples:{split}"] = sha256(frame_bytes(ds.frame))
    return ctx


def _stage_statuses(ctx: "RunContext", state: "ProjectState") -> tuple[dict[str, Any], list[str]]:
    """Each stage after ``data``, in pipeline order, -> its status (see :func:`project_status`); and the source
    tables changed since the sources stage applied them.

    A stage whose outputs load from the state is "current" and passes its output hash on to the later stages,
    as a run would; a later stage whose inputs include the output of a stale or never-run stage is stale too,
    and one that does not read it (the features, after a rule changed) keeps its own status, as a run would
    skip it. A stale or never-run stage marks what it will provide (:func:`_expect`), so the stages it enables
    are not shown as "not used".
    """
    from ..stages import PIPELINE, STAGES

    stages: dict[str, Any] = {}
    stale_sources: list[str] = []
    for name in PIPELINE[1:]:
        stage = STAGES[name]
        rec = state.stage(name)
        if not _wanted(stage, ctx):
            stages[name] = {"status": "not used"}
            continue
        if rec is None:
            stages[name] = {"status": "never ran"}
            _expect(stage, ctx)
            continue
        info = {"finished": _utc(rec.finished), "seconds": round(rec.seconds, 3), "config_hash": rec.config_hash[:12]}
        why, changed = _why_stale(stage, ctx, rec)
        if name == "sources" and changed:
            stale_sources = [k for k in changed if k.startswith("sources[")]
        if why is None and getattr(stage, "always", False):
            info["status"] = "runs every time"
        elif why is None and stage.load(ctx, rec):
            info["status"] = "current"
            ctx.hashes[name] = rec.output_hash
        else:
            info["status"] = "stale"
            info["why"] = why or "outputs missing from the state"
        if info["status"] == "stale":
            _expect(stage, ctx)
        stages[name] = info
    return stages, stale_sources


def _expect(stage: "Stage", ctx: "RunContext") -> None:
    """Mark ``ctx`` as a run would leave it once ``stage`` (stale or never ran) has run, by the stage's own
    declaration (its optional ``expect``, :class:`polarlab.stages.base.Stage`): later stages whose ``wanted`` read
    its outputs then read "stale" or "never ran" instead of "not used"."""
    expect = getattr(stage, "expect", None)
    if callable(expect):
        expect(ctx)


def _wanted(stage: "Stage", ctx: "RunContext") -> bool:
    """Whether the project uses ``stage`` (True when that depends on an earlier stage's missing outputs)."""
    try:
        return stage.wanted(ctx)
    except KeyError:
        return True


def _why_stale(stage: "Stage", ctx: "RunContext", rec: "StageRecord") -> tuple[str | None, list[str]]:
    """Why the stage's last run ``rec`` no longer matches the project (None: it does), and the inputs changed."""
    from ..stages.base import stage_config_hash, stale_reason

    try:
        config_hash = stage_config_hash(stage, ctx)
        inputs = stage.inputs(ctx)
    except KeyError:
        return "an earlier stage is stale", []
    return stale_reason(rec, config_hash, inputs)


def _last_run(runs: "pd.DataFrame") -> dict[str, Any] | None:
    """The last run of ``runs`` (the state's runs table): started, status, seconds (None for a run that did not
    finish: still running, or stopped by kill -9 or a crash); None before any run."""
    import pandas as pd

    if not len(runs):
        return None
    last = runs.iloc[-1]
    return {"started": _utc(last["started"]), "status": last["status"],
            "seconds": None if pd.isna(last["finished"]) else round(last["finished"] - last["started"], 2)}


def register(app: typer.Typer) -> None:
    """Add the ``status`` command to ``app``."""

    @app.command()
    def status(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
               as_json: bool = typer.Option(False, "--json", help="print the status as one JSON object")) -> None:
        """What has run, when, with which config, what is stale; rows per split; LLM calls and cost so far.

        A spans, linking or relevance project: its runs, which output files are current or stale, what was
        labelled, and LLM calls vs cache hits per LLM step."""
        from ..errors import PolarlabError
        from .main import _fail, _setup_logging, console

        from ..project import peek_task_kind
        from ..tasks import project_job

        _setup_logging(False)
        job = project_job(peek_task_kind(project))     # spans, linking, relevance: a job of their own
        try:
            if job is not None:
                from ..jobs.status import job_status

                st = job_status(project, job)
            else:
                st = project_status(project)
        except PolarlabError as e:
            _fail(e)
        if as_json:
            from ..io.jsonout import dumps

            print(dumps(st))
            return
        if job is not None:
            from ..jobs.status import print_job_status

            print_job_status(console, st)
            return
        _print(console, st)


def _print(console, st: dict[str, Any]) -> None:
    from rich.table import Table

    last = st["runs"]["last"]
    console.print(f"project {st['project']}  state {st['state_dir']}", highlight=False)
    if last is None:
        runs = ""
    elif last["seconds"] is None:      # a run that never recorded its end
        runs = f", last {last['started']} ({last['status']}: not finished; still going, or stopped)"
    else:
        runs = f", last {last['started']} ({last['status']}, {last['seconds']}s)"
    console.print(f"runs: {st['runs']['count']}{runs}", highlight=False)
    console.print("rows: " + ", ".join(f"{s} {n}" for s, n in st["splits"].items()), highlight=False)
    t = Table(title="stages")
    for c in ("stage", "status", "why", "finished", "seconds", "config"):
        t.add_column(c)
    for name, info in st["stages"].items():
        t.add_row(name, info["status"], info.get("why", ""), info.get("finished", ""), str(info.get("seconds", "")),
                  info.get("config_hash", ""))
    console.print(t)
    ls = st["last_sources"]
    console.print(f"last run of sources: applied {ls.get('applied') or []}, reused {len(ls.get('reused') or [])}",
                  highlight=False)
    if st["stale_sources"]:
        console.print(f"changed since applied: {', '.join(st['stale_sources'])}", highlight=False)
    if st["vote_events"]:
        console.print("vote events: " + ", ".join(f"{k} {v}" for k, v in st["vote_events"].items()), highlight=False)
    for name, s in st["llm"].items():
        console.print(f"LLM {name}: {int(s['calls'])} calls, {int(s['cache_hits'])} cache hits, "
                      f"{int(s['tokens_in'])}+{int(s['tokens_out'])} tokens, cost {s['cost']:.4f}", highlight=False)
