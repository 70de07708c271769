"""``polarlab status PROJECT`` of a spans, linking or relevance project: from the runs :mod:`.record` keeps.

An output of the last finished run is ``current`` while the project file's tables, the input files and the
output itself are as that run left them; ``stale`` (with why) after a change to the tables or an input;
``changed since written`` when the file itself was rewritten; ``missing`` when it is gone.

Before any finished run is recorded, an output that is already where the project writes it was left by a run from
before runs were recorded: it is ``predates run records`` (what config and inputs made it is unknown), not "never
ran".
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from .kind import JobKind
from .record import config_hash, input_hashes, size_and_mtime


def _utc(t: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(t))


def read_runs(state_dir: Path) -> list[dict[str, Any]]:
    """Every recorded run, oldest first (started, finished, status, config_hash, report as a dict); [] before the
    first run (no state yet, or a state from before runs were recorded)."""
    from ..state import ProjectState

    if not (Path(state_dir) / "state.sqlite").exists():
        return []
    state = ProjectState(state_dir, readonly=True)
    try:
        runs = state.runs()
    finally:
        state.close()
    rows = runs.astype(object).where(runs.notna(), None).to_dict("records")    # an unfinished run: finished None
    return [{**r, "report": json.loads(r["report"] or "{}")} for r in rows]


def last_ok(runs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last run that finished, or None."""
    return next((r for r in reversed(runs) if r["status"] == "ok"), None)


def _why_stale(run: dict[str, Any], project_file: Path, inputs: tuple[Path, ...]) -> str | None:
    if run["config_hash"] != config_hash(project_file):
        return "the project file's settings changed since the run"
    now, then = input_hashes(inputs), run["report"].get("inputs", {})
    changed = sorted(k for k in set(now) | set(then) if now.get(k) != then.get(k))
    return f"input changed since the run: {', '.join(changed)}" if changed else None


UNRECORDED = "predates run records"
"""The status of an output written before runs were recorded."""


def unrecorded_outputs(paths: dict[str, Path]) -> dict[str, Any]:
    """The outputs in ``paths`` (name -> where the project writes it) that exist, each as ``UNRECORDED`` with why:
    for a project with no finished run recorded, they were written by a run that predates run records."""
    why = "written by a run before runs were recorded: the config and inputs it came from are unknown"
    return {name: {"path": str(Path(p).resolve()), "status": UNRECORDED, "why": why} for name, p in paths.items()
            if Path(p).exists()}


def output_status(out: dict[str, Any], stale: str | None) -> dict[str, Any]:
    """One written file's status (see the module)."""
    path = Path(out["path"])
    info: dict[str, Any] = {"path": str(path)}
    if not path.exists():
        return {**info, "status": "missing"}
    if size_and_mtime(path) != (out["size"], out["mtime_ns"]):
        return {**info, "status": "changed since written", "why": "the file was rewritten after the run"}
    return {**info, "status": "stale", "why": stale} if stale else {**info, "status": "current"}


def job_status(project_file: Path, job: JobKind) -> dict[str, Any]:
    """The status as a JSON-able dict.

    Keys: ``project``, ``kind``, ``state_dir``, ``runs`` (count, last: started, status, seconds), ``last_ok``
    (finished, seconds), ``outputs`` (name -> path, status, why), ``counts`` (what the last finished run labelled),
    ``llm`` (``last_run``: per LLM step, calls and cache hits of the last finished run; ``total``: calls, cache
    hits, tokens, cost per step summed over every run).
    """
    from ..llm.stats import totals_over_runs

    project_file = Path(project_file)
    paths = job.paths(project_file)
    runs = read_runs(paths.state_dir)
    ok = last_ok(runs)
    last = runs[-1] if runs else None
    out: dict[str, Any] = {
        "project": str(project_file), "kind": job.name, "state_dir": str(paths.state_dir),
        "runs": {"count": len(runs), "last": None if last is None else {
            "started": _utc(last["started"]), "status": last["status"],
            "seconds": None if last["finished"] is None else round(last["finished"] - last["started"], 2)}},
        "last_ok": None, "outputs": {}, "counts": {}, "llm": {"last_run": {}, "total": {}}}
    if last is not None and last["status"] == "failed":
        out["runs"]["last"]["error"] = last["report"].get("error")
    if ok is None:
        out["outputs"] = unrecorded_outputs(paths.outputs)
        return out
    stale = _why_stale(ok, project_file, paths.inputs)
    rep = ok["report"]
    out["last_ok"] = {"finished": _utc(ok["finished"]), "seconds": round(ok["finished"] - ok["started"], 2)}
    out["outputs"] = {name: output_status(o, stale) for name, o in rep.get("outputs", {}).items()}
    out["counts"] = rep.get("counts", {})
    out["llm"] = {"last_run": rep.get("llm", {}), "total": totals_over_runs(r["report"] for r in runs)}
    return out


def print_job_status(console, st: dict[str, Any]) -> None:
    """The status on the terminal (what ``polarlab status`` prints for these kinds)."""
    from rich.table import Table

    say = lambda s: console.print(s, highlight=False, soft_wrap=True)  # noqa: E731
    say(f"project {st['project']} (kind {st['kind']})  state {st['state_dir']}")
    last = st["runs"]["last"]
    old = st["last_ok"] is None and st["outputs"]
    if old:
        say("outputs exist but predate run records (the config and inputs that made them are unknown): "
            + ", ".join(f"{name} {o['path']}" for name, o in st["outputs"].items())
            + "; `polarlab run` it to record a run")
    if last is None:
        if not old:
            say("runs: 0 (never ran: `polarlab run` it)")
        return
    secs = "not finished; still going, or stopped" if last["seconds"] is None else f"{last['seconds']}s"
    say(f"runs: {st['runs']['count']}, last {last['started']} ({last['status']}, {secs})"
        + (f": {last['error']}" if last.get("error") else ""))
    if st["last_ok"] is None:
        say("no run has finished yet")
        return
    say(f"last finished run: {st['last_ok']['finished']} ({st['last_ok']['seconds']}s)")
    t = Table(title="outputs")
    for c in ("output", "status", "why", "path"):
        t.add_column(c)
    for name, o in st["outputs"].items():
        t.add_row(name, o["status"], o.get("why") or "", o["path"])
    console.print(t)
    if st["counts"]:
        say("labelled: " + ", ".join(f"{k} {v}" for k, v in st["counts"].items()))
    for step, s in st["llm"]["last_run"].items():
        total = st["llm"]["total"].get(step, {})
        say(f"LLM {step}: last run {int(s.get('calls', 0))} calls, {int(s.get('cache_hits', 0))} cache hits; "
            f"all runs {int(total.get('calls', 0))} calls, {int(total.get('cache_hits', 0))} cache hits")
