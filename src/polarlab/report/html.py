"""Render :class:`ReportData` as one self-contained HTML page: inline CSS, figures as base64 PNG
``data:`` URIs, no scripts, no external links — it opens without a network."""
from __future__ import annotations

import base64
import math
from html import escape
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

from ..io.atomic import write_text
from . import figures
from .data import ReportData

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:2em auto;max-width:1000px;
color:#222;padding:0 1em}h1{font-size:1.6em}h2{font-size:1.2em;border-bottom:1px solid #ddd;padding-top:.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
figure{display:inline-block;margin:.5em 1em .5em 0;vertical-align:top}figcaption{font-size:.8em;color:#555}
img{max-width:100%}.note{color:#666;font-size:.9em}
"""


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, (float, np.floating)):
        return f"{float(v):.3f}"
    return escape(str(v))


def table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def figure(name: str, data: bytes, caption: str) -> str:
    b64 = base64.b64encode(data).decode("ascii")
    return (f'<figure data-figure="{escape(name)}"><img alt="{escape(caption)}" src="data:image/png;base64,{b64}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def note(text: str) -> str:
    return f'<p class="note">{escape(text)}</p>'


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a proportion k/n."""
    if n == 0:
        return float("nan"), float("nan")
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return c - h, c + h


def _sources(d: ReportData) -> str:
    if d.sources is None or d.sources.empty:
        return note("no source statistics in this run")
    cols = [c for c in ("coverage", "overlap", "conflict", "emp_acc", "est_acc") if c in d.sources.columns]
    rows = [[name, *[r[c] for c in cols]] for name, r in d.sources.iterrows()]
    return table(["source", *cols], rows) + note(
        "emp_acc: accuracy against gold where gold exists; est_acc: gold-free estimate, the share of the "
        "source's votes that agree with the final label.")


def _labels(d: ReportData) -> str:
    if d.labels is None or d.labels.empty:
        return note("no labels file")
    splits = d.labels["split"] if "split" in d.labels.columns else None
    counts: dict[str, dict[str, int]] = {}
    for split in (sorted(set(splits)) if splits is not None else ["all"]):
        sel = d.labels if splits is None else d.labels[splits == split]
        counts[str(split)] = sel["label"].astype(str).value_counts().to_dict()
    out = figure("label_distribution", figures.label_distribution(counts, d.task.labels), "final label counts per split")
    if d.label_metrics:
        rows = [[m, s, v.get("wrench_metric_name"), v.get("wrench_metric"), v.get("accuracy"), v.get("n")]
                for m, per in d.label_metrics.items() for s, v in per.items()]
        out += table(["method", "split", "metric", "value", "accuracy", "n"], rows)
    return out


def _calibration(d: ReportData) -> str:
    if not d.calibration:
        return note("no risk calibration: needs an LLM source and gold labels on some split")
    out = ""
    for c in d.calibration:
        out += figure(f"reliability_{c.name}", figures.reliability(c.risk, c.is_error,
                      f"{c.name} on {c.split} (n={len(c.risk)})"), f"reliability diagram of the risk of {c.name}")
        out += figure(f"risk_error_{c.name}", figures.risk_vs_error(c.risk, c.is_error, f"{c.name} on {c.split}"),
                      f"risk vs error rate of {c.name}")
        if c.metrics:
            keys = [k for k in ("ece", "ece_floor", "r2", "brier", "auroc", "n") if k in c.metrics]
            out += table(keys, [[c.metrics[k] for k in keys]])
    return out


def _correction(d: ReportData) -> str:
    rows, table_rows = [], []
    for llm, per in d.correction.items():
        for split, r in per.items():
            if r.get("llm_error_before") is not None and r.get("llm_error_after") is not None:
                rows.append((f"{llm}/{split}", r["llm_error_before"], r["llm_error_after"]))
            table_rows.append([llm, split, r.get("slice_n"), r.get("calls"), r.get("llm_error_before"),
                               r.get("llm_error_after"), r.get("accuracy_before"), r.get("accuracy_after")])
    if not table_rows:
        return note("no correction stage in this run")
    out = figure("correction", figures.correction(rows), "error of the re-asked answers") if rows else ""
    return out + table(["LLM", "split", "slice", "re-asks", "error before", "error after", "accuracy before",
                        "accuracy after"], table_rows)


def _review(d: ReportData) -> str:
    if not d.human:
        return note("no human answers yet (review loop or imported annotations)")
    out = figure("review_progress", figures.review_progress(d.human), "reviewed examples over time")
    n = len(d.review_pairs)
    if n:
        k = sum(int(a == b) for a, b in d.review_pairs)
        lo, hi = wilson(k, n)
        out += note(f"People confirmed the review model's label (as it was when first answered) on {k} of {n} "
                    f"reviewed items: {k / n:.3f} (95% Wilson interval {lo:.3f}–{hi:.3f}). The items were chosen "
                    f"mostly by risk, so this is not the accuracy of all labels (below).")
    out += _imported_comparison(d)
    if d.review:
        out += note(_review_status(d.review))
    tools = sorted({v.tool for v in d.human})
    people = sorted({v.annotator for v in d.human})
    return out + note(f"{len(d.human)} answers from {len(people)} people via {', '.join(tools)}.")


def _imported_comparison(d: ReportData) -> str:
    """Imported answers (Label Studio / Argilla) vs the machine label the tool showed, marked as imported."""
    imported = [v for v in d.human if v.tool != "review"]
    if not imported:
        return ""
    tools = ", ".join(sorted({v.tool for v in imported}))
    n = len(d.imported_pairs)
    people = sum(v.shown_from == "people" for v in imported)
    text = ""
    if n:
        k = sum(int(a == b) for a, b, _ in d.imported_pairs)
        lo, hi = wilson(k, n)
        at_import = sum(src == "import" for _, _, src in d.imported_pairs)
        text = (f"Imported answers ({tools}): people confirmed the machine label the export showed them on {k} of {n} "
                f"answers: {k / n:.3f} (95% Wilson interval {lo:.3f}–{hi:.3f}).")
        if at_import:
            text += (f" For {at_import} of them the file did not carry the exported label; they are compared with the "
                     f"row's machine label when they were imported.")
    rest = len(imported) - n
    if rest:
        text += (f" {rest} imported answer(s) not compared: " + (f"{people} on rows whose export showed the "
                 f"reviewers' label" if people else "") + (", " if people and rest > people else "")
                 + (f"{rest - people} with no machine label recorded (imported by an older polarlab)"
                    if rest > people else "") + ".")
    return note(text.strip())


def _review_status(s: dict[str, Any]) -> str:
    """The review's status in one sentence, as ``polarlab review status`` says it."""
    def pct(x) -> str:
        return "n/a" if x is None or x != x else f"{100 * x:.1f}%"

    e = s["estimate"]
    return (f"Review: {s['items']} items, reviewed {s['reviewed']} (random checks {s['audited']}), accepted "
            f"{s['accepted']}, remaining {s['remaining']}; errors found {s['errors_found']}; budget {s['budget']} "
            f"reviews, {s['budget_left']} left; stop: {s['stop'] or 'not yet'}. Gold-free estimate of the accuracy of "
            f"the unreviewed labels: {pct(e['accuracy'])} [{pct(e['lower'])}, {pct(e['upper'])}] "
            f"({int(round(100 * e['level']))}% interval; target {pct(s['target'])}).")


def llm_section(d: ReportData) -> str:
    if not d.llm and not d.llm_total:
        return note("no LLM source in this run")
    out = ""
    if d.llm:
        keys = ["requests", "calls", "cache_hits", "tokens_in", "tokens_out", "seconds", "cost"]
        out += note("the run that wrote these labels (answers already in the cache cost no call):")
        out += table(["LLM", *keys], [[name, *[s.get(k) for k in keys]] for name, s in d.llm.items()])
    if d.llm_total:
        keys = ["calls", "cache_hits", "tokens_in", "tokens_out", "cost"]
        out += note("every run of this project (what it has spent so far, as polarlab status counts it):")
        out += table(["LLM", *keys], [[name, *[s.get(k) for k in keys]] for name, s in d.llm_total.items()])
    return out


def _end_model(d: ReportData) -> str:
    e = d.end_model
    if e is None:
        return note("no end model trained")
    m = e.metrics
    out = table(["model", "split", "metric", "value", "accuracy", "macro F1", "n"],
                [[e.kind, e.split, m.get("wrench_metric_name"), m.get("wrench_metric"), m.get("accuracy"),
                  m.get("macro_f1"), m.get("n")]])
    out += figure("confusion_matrix", figures.confusion(e.confusion, d.task.labels, f"end model on {e.split}"),
                  "end-model confusion matrix")
    if e.self_training:
        out += table(["round", "pseudo-labels", "held-out agreement", "pool change", "accepted"],
                     [[r["round"], r["n_pseudo"], r["heldout_agreement"], r["pool_change"], r.get("accepted", True)]
                      for r in e.self_training.get("rounds", [])])
        out += note(f"self-training kept round {e.self_training.get('best_round')}; "
                    f"stopped: {e.self_training.get('stop_reason')}")
    return out


def _slices(d: ReportData) -> str:
    out = ""
    for split, frame in d.slices.items():
        cols = list(frame.columns)
        out += f"<h3>{escape(split)}</h3>" + table(["slice", *[c.replace("_", " ") for c in cols]],
                                                   [list(r) for r in frame.itertuples()])
    return out + note("label / end scores against gold where the slice has gold rows; risk ECE and AUROC "
                      "against the labels' errors; coverage = rows with at least one source vote")


def _timeline(d: ReportData) -> str:
    stages = {k: float(v) for k, v in d.timeline.items() if k != "total" and v is not None}
    if not stages:
        return note("no stage timings")
    return figure("timeline", figures.timeline(stages), "stage timeline")


SECTIONS = (("Sources", _sources), ("Labels", _labels), ("Risk calibration", _calibration),
            ("Correction", _correction), ("Review", _review), ("LLM usage", llm_section), ("End model", _end_model),
            ("Timeline", _timeline))


def render(d: ReportData) -> str:
    """The report as one HTML string."""
    parts = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{escape(d.title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{escape(d.title)}</h1>",
             note(f"task {d.task.name}: labels {', '.join(d.task.labels)}")]
    parts += [note(n) for n in d.notes]
    sections = SECTIONS[:3] + (("Slices", _slices),) + SECTIONS[3:] if d.slices else SECTIONS
    for title, fn in sections:
        parts.append(f"<section><h2>{escape(title)}</h2>{fn(d)}</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write_report(d: ReportData, path: str | Path) -> Path:
    """Render and write the page atomically."""
    write_text(path, render(d))
    return Path(path)
