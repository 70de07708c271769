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


def print_analysis(console: Console, frame: pd.DataFrame, title: str) -> None:
    """Per-source statistics (index = source name)."""
    table = Table(title=title)
    table.add_column("source")
    for c in frame.columns:
        table.add_column(str(c), justify="right")
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
