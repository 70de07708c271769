"""A spans project as ``polarlab status``, ``report`` and ``export`` read it (:class:`polarlab.jobs.kind.JobKind`)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..jobs.export import need, write_table
from ..jobs.kind import ExportFormat, JobKind, JobPaths
from .types import SpanDoc


def paths(project_file: Path) -> JobPaths:
    """The state folder and the files a spans run reads (documents, ontologies, term lists)."""
    from .run import load_spans_project

    cfg = load_spans_project(project_file)
    return job_paths(cfg, Path(cfg.output) if cfg.output else Path(project_file).parent / "out" / "spans.jsonl")


def job_paths(cfg, output: Path | None = None) -> JobPaths:
    """:func:`paths` of a read :class:`polarlab.spans.config.SpansConfig` whose spans file is ``output``."""
    inputs = [cfg.data.path] + [p for s in cfg.sources for p in (s.ontology, s.terms) if p is not None]
    outputs = {} if output is None else {"spans": Path(output), "metrics": Path(output).with_name("metrics.json")}
    return JobPaths(Path(cfg.state_dir), tuple(Path(p) for p in inputs), outputs)


def read_run_spans(path: Path) -> tuple[list[SpanDoc], dict[tuple[str, int, int, str], float]]:
    """The documents and spans of a run's spans file (any of its formats) and, from a ``.jsonl`` one, each span's
    probability by (document id, start, end, label); {} for PubTator and CoNLL, which carry none."""
    from .io import read_conll, read_jsonl, read_pubtator
    from .run import SPAN_FILE_FORMATS

    fmt = SPAN_FILE_FORMATS[path.suffix.lower()]
    if fmt == "pubtator":
        return read_pubtator(path, None), {}
    if fmt == "conll":
        return read_conll(path), {}
    prob = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        for s in rec.get("spans", []):
            prob[(str(rec["id"]), s["start"], s["end"], s["label"])] = s.get("probability")
    return read_jsonl(path), prob


def span_table(docs: list[SpanDoc], prob: dict) -> pd.DataFrame:
    """One row per span: document_id, start, end, text, label, probability, risk (empty without probabilities)."""
    rows = []
    for d in docs:
        for s in d.spans:
            p = prob.get((d.id, s.start, s.end, s.label))
            rows.append({"document_id": d.id, "start": s.start, "end": s.end, "text": d.covered(s), "label": s.label,
                         "probability": p, "risk": None if p is None else 1 - p})
    cols = ["document_id", "start", "end", "text", "label", "probability", "risk"]
    return pd.DataFrame(rows, columns=cols)


def _table(outputs: dict[str, Path], dest: Path) -> int:
    return write_table(span_table(*read_run_spans(need(outputs, "spans"))), dest)


def _documents(fmt: str):
    """A writer of the spans as documents in ``fmt`` (jsonl: spaCy style with probability and risk; conll;
    pubtator)."""
    def write(outputs: dict[str, Path], dest: Path) -> int:
        from .io import write_conll, write_jsonl, write_pubtator

        docs, prob = read_run_spans(need(outputs, "spans"))
        if fmt == "jsonl":
            def extra(d, s):
                p = prob.get((d.id, s.start, s.end, s.label))
                return {"probability": p, "risk": None if p is None else 1 - p}
            write_jsonl(docs, dest, extra=extra)
        else:
            {"conll": write_conll, "pubtator": write_pubtator}[fmt](docs, dest)
        return sum(len(d.spans) for d in docs)
    return write


def quality(metrics: dict) -> list[tuple[str, str]]:
    """Exact and partial P/R/F1 per method and the calibration of each method's risk (when the documents had
    gold spans)."""
    from ..report.html import note, table

    if not metrics.get("labels"):
        return [("Span quality", note("no gold spans in the documents: no P/R/F1 (the run wrote no metrics.json)"))]
    head = note(f"{metrics.get('n_docs')} documents with gold, {metrics.get('n_gold')} gold spans"
                + (f"; {metrics['n_docs_without_gold']} documents without gold left out"
                   if metrics.get("n_docs_without_gold") else "")
                + (f"; harmonizer level {metrics['harmonizer'].get('level')}" if metrics.get("harmonizer") else ""))
    rows = [[m, v["exact"]["precision"], v["exact"]["recall"], v["exact"]["f1"], v["partial"]["f1"],
             v["exact"]["n_pred"]] for m, v in metrics["labels"].items()]
    labels = head + table(["method", "exact P", "exact R", "exact F1", "partial F1", "spans"], rows)
    keys = ("n", "error_rate", "mean_risk", "ece", "ece_floor", "auroc", "brier")
    risk = metrics.get("risk") or {}
    cal = (table(["method", *keys], [[m, *[r.get(k) for k in keys]] for m, r in risk.items()])
           + note("risk = 1 - P(span exactly right); error = the span is not a gold span") if risk
           else note("no method with a risk"))
    return [("Span quality", labels), ("Risk calibration", cal)]


JOB = JobKind(name="spans", paths=paths, quality=quality, unit="span", exports={
    "csv": ExportFormat(".csv", _table), "parquet": ExportFormat(".parquet", _table),
    "jsonl": ExportFormat(".jsonl", _documents("jsonl")), "conll": ExportFormat(".conll", _documents("conll")),
    "pubtator": ExportFormat(".txt", _documents("pubtator"))})
