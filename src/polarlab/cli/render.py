"""Rich tables for the CLI."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.console import Console
from rich.table import Table


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.3f}"
    if isinstance(v, (list, tuple)):
        return ",".join(str(x) for x in v)
    return str(v)


SHORT = {"polarity": "pol", "coverage": "cov", "overlap": "ovl", "conflict": "cnf", "correct": "ok",
         "incorrect": "bad", "emp_acc": "acc", "failures": "err"}


def print_analysis(console: Console, frame: pd.DataFrame, title: str) -> None:
    """Per-source statistics (index = source name)."""
    table = Table(title=title, caption="cov=coverage ovl=overlap cnf=conflict ok/bad/acc vs gold err=rows that raised")
    table.add_column("source", no_wrap=True, overflow="fold")
    for c in frame.columns:
        table.add_column(SHORT.get(str(c), str(c)), justify="right", no_wrap=True)
    for name, row in frame.iterrows():
        table.add_row(str(name), *(_fmt(row[c]) for c in frame.columns))
    console.print(table)


def print_failures(console: Console, matrix) -> None:
    """Say which sources raised, how often, and the first error of each."""
    if not matrix.failures:
        return
    by: dict[str, list] = {}
    for f in matrix.failures:
        by.setdefault(f.source, []).append(f)
    for src, fs in by.items():
        console.print(f"[yellow]warning:[/] source {src!r} raised on {len(fs)} row(s), counted as abstain; "
                      f"first: row {fs[0].row} (id {fs[0].example_id}): {fs[0].error}", highlight=False)


def print_metrics(console: Console, metrics: dict, final: str | None = None) -> None:
    """Method × split metrics table."""
    table = Table(title="label quality (gold used only for these numbers)")
    for c in ("method", "split", "n", "accuracy", "f1", "macro_f1", "wrench metric"):
        table.add_column(c, justify="right" if c not in ("method", "split") else "left")
    for method, per_split in metrics.items():
        for split, m in per_split.items():
            name = f"{method} *" if method == final else method
            table.add_row(name, split, _fmt(m.get("n")), _fmt(m.get("accuracy")), _fmt(m.get("f1")),
                          _fmt(m.get("macro_f1")),
                          f"{_fmt(m.get('wrench_metric'))} ({m.get('wrench_metric_name', '')})")
    if table.row_count:
        console.print(table)
        if final:
            console.print(f"* labels written from {final}")


def print_bench(console: Console, result: dict) -> None:
    """Label-quality and risk-calibration tables of a benchmark result."""
    t = Table(title=f"{result['dataset']}: label quality on test (n={result['n_test']})")
    for c in ("method", "accuracy", "f1", "macro_f1", "wrench metric"):
        t.add_column(c, justify="left" if c == "method" else "right", no_wrap=c == "method")
    for m, d in result["labels"].items():
        t.add_row(m, _fmt(d["accuracy"]), _fmt(d["f1"]), _fmt(d["macro_f1"]),
                  f"{_fmt(d['wrench_metric'])} ({d['wrench_metric_name']})")
    console.print(t)
    r = Table(title=f"risk that the {result.get('risk_of', 'llm')} answer is wrong: calibration on test")
    for c in ("method", "n", "error rate", "mean risk", "ECE", "R²", "Brier", "AUROC", "ECE floor", "R² floor"):
        r.add_column(c, justify="left" if c == "method" else "right", no_wrap=c == "method")
    for m, d in result["risk"].items():
        r.add_row(m, _fmt(d["n"]), _fmt(d["error_rate"]), _fmt(d["mean_risk"]), _fmt(d["ece"]), _fmt(d["r2"]),
                  _fmt(d["brier"]), _fmt(d["auroc"]), _fmt(d.get("ece_floor")), _fmt(d.get("r2_floor")))
    console.print(r)
    _print_floor_note(console)
    _print_llm_weight(console, result.get("llm_weight"))
    _print_harmonizer(console, result.get("harmonizer"))


def _print_harmonizer(console: Console, hz: dict | None) -> None:
    """The final distribution the harmonizer chose without gold, and its warnings."""
    if not hz:
        return
    crit = ", ".join(f"{c}: {_fmt(v)}" for c, v in hz.get("heldout_agreement", {}).items())
    what = "h(x) alone" if hz["combine"] == "h" else f"{hz['combine']} (the row's votes with h(x) as prior)"
    if hz.get("labels_from") == "features":
        what = f"the features-only classifier trained on {hz['combine']}'s labels (votes not read)"
    temp = f", T={_fmt(hz['temperature'])}" if hz.get("temperature") else ""
    console.print(f"POLAR output: {what}{temp} (held-out agreement with left-out sources: {crit or 'not chosen'})",
                  highlight=False)
    vs = hz.get("vote_shift_test")
    if vs:
        what = ("shifted: labelled from the features alone" if vs["shifted"] else "not shifted: votes used")
        console.print(f"test votes vs fit votes (agreement with the features-only classifier): "
                      f"{_fmt(vs['agreement'])} vs {_fmt(vs['fit_agreement'])}, z = {_fmt(vs['z'])} ({what})",
                      highlight=False)
    for w in hz.get("warnings", []):
        console.print(f"warning: {w}", style="yellow", highlight=False)


def _print_floor_note(console: Console) -> None:
    console.print("floor = what a perfectly calibrated score with the same risks would show on this many rows "
                  "(sampling noise)", style="dim")


def _print_llm_weight(console: Console, lw: dict | None) -> None:
    """The LLM weight chosen without gold and the held-out disagreement of each candidate."""
    if not lw:
        return
    losses = ", ".join(f"×{g}: {_fmt(v)}" for g, v in lw["heldout_disagreement"].items())
    who = f" for {', '.join(lw['sources'])}" if lw.get("sources") else ""
    console.print(f"LLM source weight ×{lw['multiplier']}{who} (held-out disagreement with the other sources: "
                  f"{losses})", highlight=False)


def print_risk(console: Console, report: dict) -> None:
    """Calibration of each LLM's POLAR risk per split, and the LLM's cost."""
    risk = report.get("risk") or {}
    if risk:
        t = Table(title="POLAR risk of the LLM answers vs their observed errors")
        for c in ("llm", "split", "n", "error rate", "mean risk", "ECE", "R²", "AUROC", "ECE floor", "R² floor"):
            t.add_column(c, justify="left" if c in ("llm", "split") else "right")
        for name, per_split in risk.items():
            for split, d in per_split.items():
                t.add_row(name, split, _fmt(d["n"]), _fmt(d["error_rate"]), _fmt(d["mean_risk"]), _fmt(d["ece"]),
                          _fmt(d["r2"]), _fmt(d["auroc"]), _fmt(d.get("ece_floor")), _fmt(d.get("r2_floor")))
        console.print(t)
        _print_floor_note(console)
    _print_llm_weight(console, report.get("llm_weight"))
    for name, stats in (report.get("llm") or {}).items():
        parts = [f"{k}={_fmt(v)}" for k, v in stats.items() if v not in (None, 0, 0.0, "")]
        console.print(f"LLM {name}: " + (", ".join(parts) or "no call this run (its answers were reused from the "
                                                           "project state)"), highlight=False)


def print_correction(console: Console, report: dict) -> None:
    """Before/after figures of the correction stage, per LLM and split."""
    if not report:
        return
    t = Table(title="correction of the riskiest LLM answers")
    for c in ("llm", "split", "strategy", "re-asked", "backend calls", "changed", "slice error", "accuracy",
              "mean risk"):
        t.add_column(c, justify="left" if c in ("llm", "split", "strategy") else "right")
    for name, per_split in report.items():
        for split, d in per_split.items():
            arrow = lambda a, b: f"{_fmt(d.get(a))} → {_fmt(d.get(b))}"  # noqa: E731
            t.add_row(name, split, d["strategy"], _fmt(d["calls"]), _fmt(d.get("backend_calls")),
                      _fmt(d.get("changed")), arrow("llm_error_before", "llm_error_after"),
                      arrow("accuracy_before", "accuracy_after"), arrow("mean_risk_before", "mean_risk_after"))
    console.print(t)


def print_stages(console: Console, stages: list) -> None:
    """One line per stage of the run: ran (why) or skipped, and its seconds."""
    if not stages:
        return
    skipped = [r.name for r in stages if r.action == "skipped"]
    for r in stages:
        extra = ""
        if r.name == "sources" and r.action == "ran":
            rep = r.report or {}
            applied = rep.get("applied", [])
            extra = f"; applied {len(applied)}" + (f" ({', '.join(applied)})" if applied else "")
            extra += f", reused {len(rep.get('reused', []))} from the state"
        console.print(f"stage {r.name}: {r.action} ({r.reason}{extra}) {r.seconds:.2f}s", highlight=False)
    if skipped:
        console.print(f"skipped (unchanged): {', '.join(skipped)}", highlight=False)
