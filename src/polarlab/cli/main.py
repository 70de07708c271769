"""The ``polarlab`` command line: a thin layer over the Python API."""
from __future__ import annotations

import logging
import os
import sys
import warnings
from pathlib import Path
from typing import Any, Callable, Optional

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from ..errors import ConfigError, PolarlabError
from .render import print_stages
from .render import print_analysis, print_bench, print_failures, print_correction, print_metrics, print_risk

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Label data with rules, dictionaries and LLMs; know which labels to distrust.")
# piped output (CI logs, `| tee`) gets wide tables instead of rich's 80-column default
console = Console(stderr=False, width=None if sys.stdout.isatty() else int(os.environ.get("COLUMNS", 150)))
err = Console(stderr=True)


VERBOSE_HELP = "log why each stage runs or is skipped, and every source's warnings"


_PYTHON_FORMATWARNING = warnings.formatwarning
"""Python's own form of a printed warning, as it was when this module was imported (``--verbose`` restores it)."""


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err, show_path=False)], force=True)
    # --verbose keeps Python's own form, with where the warning was raised
    warnings.formatwarning = _PYTHON_FORMATWARNING if verbose else _format_warning


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None) -> str:
    """A warning as one line, ``warning: ...``: Python's default form adds polarlab's file, line number and
    source line where it was raised, which reads like a crash and says nothing to the user. (Only the printed
    form changes: filters, and code that records warnings, see them as before.)"""
    return "warning: " + " ".join(str(message).split()) + "\n"


def _fail(e: PolarlabError, project: Optional[Path] = None) -> None:
    """Print ``e`` on one line and exit 2. A ConfigError that names a key but no file (raised by a task kind's
    job, e.g. an LLM server that does not answer at ``sources.llm.backend_options.base_url``) is about the
    project file: ``project`` is named as its file."""
    if project is not None and isinstance(e, ConfigError) and e.file is None and e.column is not None:
        e.file = str(project)
    # escape: messages name "[data]", "[[sources]]"… which rich would take as markup and drop;
    # soft_wrap: one line, whatever the terminal width
    err.print(f"[bold red]error:[/] {escape(str(e))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


@app.command()
def run(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
        out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: the project's \\[output] dir)"),
        progress: bool = typer.Option(True, help="show progress bars"),
        verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP)) -> None:
    """Run a project end to end: sources → label matrix → label models → labels file + metrics.

    Stages whose settings and inputs are unchanged since the last run are skipped (see `polarlab status`).
    """
    _run_project(project, out, progress, verbose)


def _run_project(project: Path, out: Optional[Path], progress: bool, verbose: bool,
                 adjust: Optional[Callable[[Any], None]] = None) -> None:
    """Load a project file, apply ``adjust`` to it (CLI overrides), run it and print the report."""
    _setup_logging(verbose)
    from ..pipeline import run as run_pipeline
    from ..project import load_project

    from ..project import peek_task_kind
    from ..tasks import project_runner

    try:
        kind = peek_task_kind(project)
        runner = project_runner(kind)
        if runner is not None:         # linking, relevance, ...: a task kind with a runner of its own
            outputs = runner(project, out, progress)
            _print_run_report(kind, outputs)
            for name, path in outputs.items():
                console.print(f"wrote {name}: {path}")
            return
        proj = load_project(project)
        if out is not None:
            proj.output_dir = out
        if adjust is not None:
            adjust(proj)
        result = run_pipeline(proj, progress=progress)
    except PolarlabError as e:
        _fail(e, project)
    except KeyboardInterrupt:
        _interrupted()
    _report(result)


#: Task kind with a runner of its own -> "module:function" that prints the terminal report of its ``polarlab run``,
#: ``function(console, metrics)`` with the metrics its runner wrote (its ``metrics`` output, JSON); a kind without
#: one prints the files written only.
RUN_REPORTS: dict[str, str] = {"linking": "polarlab.cli.linking:print_link_metrics",
                               "relevance": "polarlab.cli.relevance:print_relevance_metrics",
                               "spans": "polarlab.cli.spans:print_span_metrics"}


def _print_run_report(kind: str | None, outputs: dict) -> None:
    """The report :data:`RUN_REPORTS` names for ``kind``, from the ``metrics`` file among ``outputs``."""
    import importlib
    import json

    target = RUN_REPORTS.get(kind or "")
    if target is None or "metrics" not in outputs:
        return
    module, _, name = target.partition(":")
    report = getattr(importlib.import_module(module), name)
    report(console, json.loads(Path(outputs["metrics"]).read_text(encoding="utf-8")))


def _interrupted() -> None:
    """Ctrl-C: say what is kept (each stage's result and every LLM answer are saved as they finish) and exit 130."""
    err.print("interrupted: the finished stages and every LLM answer given so far are saved in the project state; "
              "run the same command again to go on (a saved answer is not asked again)",
              highlight=False, soft_wrap=True)
    raise typer.Exit(code=130)


@app.command()
def correct(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
            strategy: str = typer.Option("fewshot", help="verify | evidence | fewshot | retrieval | harmonizer; "
                                                         "'+' combines, e.g. evidence+fewshot"),
            budget: str = typer.Option("0.1", help="re-asks per split: a fraction of rows (0.1) or a count (50)"),
            threshold: Optional[float] = typer.Option(None, help="re-ask only answers with POLAR risk above this"),
            out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: the project's \\[output] dir)"),
            progress: bool = typer.Option(True, help="show progress bars"),
            verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP)) -> None:
    """Run the project, then re-ask the riskiest LLM answers with dynamic prompts (cached answers are free)."""
    from ..correct import parse_budget

    def adjust(proj) -> None:
        proj.correct = {**proj.correct, "strategy": strategy, "budget": parse_budget(budget)}
        if threshold is not None:
            proj.correct["threshold"] = threshold

    _run_project(project, out, progress, verbose, adjust)


@app.command()
def demo(out: Path = typer.Option(Path("polarlab-demo"), "--out", help="output and cache folder"),
         llm: bool = typer.Option(True, help="include the embedded LLM labeler (Gemma 3 270M via llama.cpp)"),
         limit: Optional[int] = typer.Option(None, help="use only the first N rows of each split"),
         progress: bool = typer.Option(True, help="show progress bars"),
         verbose: bool = typer.Option(False, "--verbose", "-v", help=VERBOSE_HELP)) -> None:
    """Run the bundled demo project (YouTube comment spam) on the embedded defaults."""
    from ..data.demo import DEMO_PROJECT

    def adjust(proj) -> None:
        proj.output_dir = out
        proj.state_dir = out / "state"
        if not llm:
            proj.sources = [s for s in proj.sources if s.get("type") != "llm"]
        if limit:
            proj.data["limit"] = limit

    _run_project(DEMO_PROJECT, None, progress, verbose, adjust)


@app.command()
def analyze(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
            split: Optional[str] = typer.Option(None, help="split to analyse (default: the fit split)"),
            slices: Optional[Path] = typer.Option(None, help="a Python file of slicing functions: per-slice "
                                                             "coverage, label quality, risk and end-model scores"),
            snorkel: bool = typer.Option(False, "--snorkel", help="also Snorkel's lf_summary table (its column "
                                                                  "names) with a gold-free accuracy estimate")
            ) -> None:
    """Apply the sources and print per-source polarity, coverage, overlap, conflict, accuracy."""
    _setup_logging(False)
    from ..matrix.analysis import analyze as analyze_matrix
    from ..pipeline import choose_fit_split, label_matrices
    from ..project import load_project
    from ..sources.config import check_source_columns, sources_from_config

    try:
        proj = load_project(project)
        splits = proj.load_splits()
        name = split or choose_fit_split(splits, proj.fit_split)
        if name not in splits:
            raise PolarlabError(f"no split {name!r}; the splits are {sorted(splits)}")
        check_source_columns(proj.sources, {name: splits[name]}, str(proj.path),
                             text_column=proj.data.get("text_column") or proj.task.text_column,
                             label_column=proj.data.get("label_column"))
        sources = sources_from_config(proj.sources, base_dir=proj.base_dir, state_dir=proj.state_dir,
                                      sample=splits[name], file=str(proj.path), task=proj.task)
        lm = label_matrices({name: splits[name]}, sources, proj.task)[name]
    except PolarlabError as e:
        _fail(e)
    ds = splits[name]
    print_analysis(console, analyze_matrix(lm, ds.gold if ds.has_gold else None), f"sources on {name}")
    print_failures(console, lm)
    if snorkel or slices is not None:
        from .slices import print_lf_summary, print_slices

        try:
            if snorkel:
                print_lf_summary(console, proj, name, ds, lm)
            if slices is not None:
                print_slices(console, proj, name, ds, lm, slices)
        except PolarlabError as e:
            _fail(e)


from .status import register as _register_status  # noqa: E402

_register_status(app)
from .review import review_app  # noqa: E402  (review commands live in cli/review.py)
app.add_typer(review_app, name="review")

bench_app = typer.Typer(no_args_is_help=True, help="Compare polarlab with baselines on labelled benchmarks.")
app.add_typer(bench_app, name="bench")
from . import linking as _linking  # noqa: E402  (ontology entity linking: bench linking, link)
bench_app.command("linking")(_linking.bench_linking_cmd); app.command("link")(_linking.link_cmd)
from . import spans as _spans  # noqa: E402  (entity spans: bench spans)
_spans.register(bench_app)
from .relevance import register as _register_relevance  # noqa: E402
_register_relevance(app, bench_app)


@bench_app.command("wrench")
def bench_wrench_cmd(
        directory: Path = typer.Argument(..., help="a WRENCH directory (train/valid/test.json + label.json)"),
        llm: str = typer.Option("local", help="local | none | an OpenAI-compatible base URL"),
        llm_model: Optional[str] = typer.Option(None, help="model name on a remote server"),
        limit: Optional[int] = typer.Option(None, min=1, help="at most N rows of each split (same rows every run)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="also write the JSON result here"),
        state_dir: Path = typer.Option(Path(".polarlab"), help="cache folder (LLM answers, embeddings)"),
        features: str = typer.Option("auto", help="auto (numeric for tabular, relation for relation data, else embedding) | embedding | tfidf | relation | numeric"),
        progress: bool = typer.Option(True, help="show progress bars"),
        correct: Optional[str] = typer.Option(
            None, help="error-correction strategies on the test split: ',' separates strategies (each run "
                       "separately), '+' combines components in one prompt; components: verify, evidence, "
                       "fewshot, retrieval, harmonizer (e.g. verify,evidence+fewshot,harmonizer)"),
        budget: str = typer.Option("0.1", help="re-asks per strategy: a fraction of the test rows (0.2) or a "
                                               "count (50); cache hits count too"),
        risk_threshold: Optional[float] = typer.Option(None, help="re-ask only answers with POLAR risk above this"),
        update: str = typer.Option("rescore", help="after correcting: rescore (same h) | refit (h fitted again)"),
        retrieval_as: str = typer.Option("few_shot", help="retrieved neighbours as few_shot demonstrations | evidence lines"),
        audit_dir: Optional[Path] = typer.Option(None, help="write one audit table per strategy here"),
        tune_llm: bool = typer.Option(True, help="choose the LLM's source weight without gold (held-out agreement "
                                                 "with the other sources); also reports polar_equal"),
        transformer: bool = typer.Option(False, help="also fine-tune the sentence encoder as the harmonizer "
                                                     "(slow on CPU); reported as polar_transformer"),
        metric: str = typer.Option("auto", help="the wrench_metric: auto (WRENCH's metric for the directory's name: "
                                                "F1 of class 1 for sms, spouse, cdr, census, basketball, tennis, "
                                                "commercial, accuracy for the others and for names WRENCH does not "
                                                "list) | acc | f1_binary")) -> None:
    """POLAR vs MV / Snorkel / Dawid–Skene / the LLM: label quality and risk calibration on the test split.

    Prints tables, then the JSON result as the last line:
    {"dataset", "n_test", "labels": {method: {accuracy, f1, macro_f1, wrench_metric}},
    "risk": {method: {ece, r2, brier, auroc, ...}}, "seconds": {...}}; with --correct also
    "correction": {strategy: {slice_n, llm_error_before, llm_error_after, accuracy_before, accuracy_after,
    calls, backend_calls, ...}}.
    """
    _setup_logging(False)
    from ..bench import BenchConfig, bench_wrench
    from ..correct import CorrectionConfig, parse_budget, parse_strategies
    from ..export.labels import to_json, write_json

    try:
        strategies = tuple(s.name for s in parse_strategies(correct)) if correct else ()
        ccfg = CorrectionConfig(budget=parse_budget(budget), threshold=risk_threshold, update=update,
                                retrieval_as=retrieval_as)
        result = bench_wrench(BenchConfig(directory=directory, llm=llm, llm_model=llm_model, limit=limit,
                                          state_dir=state_dir, features=features, progress=progress,
                                          correct=strategies, correction=ccfg, audit_dir=audit_dir,
                                          tune_llm=tune_llm, transformer=transformer, metric=metric))
    except PolarlabError as e:
        _fail(e)
    print_bench(console, result)
    if result.get("correction"):
        _print_correction(result["correction"])
    if json_out is not None:
        write_json(result, json_out)
    print(_compact_json(to_json(result)))


def _print_correction(table: dict) -> None:
    """The ``bench wrench --correct`` table: slice error and overall accuracy, before → after."""
    from rich.table import Table

    def arrow(a, b, scale=100.0, fmt="{:.1f}"):
        if a is None or b is None:
            return "-"
        return f"{fmt.format(scale * a)}→{fmt.format(scale * b)}"

    t = Table(title="error correction of the LLM's test labels")
    for c in ("strategy", "slice", "asks", "backend", "slice error %", "accuracy %", "mean risk"):
        t.add_column(c, overflow="fold")
    for name, r in table.items():
        t.add_row(name, str(r["slice_n"]), str(r["calls"]), str(r["backend_calls"]),
                  arrow(r["llm_error_before"], r["llm_error_after"]), arrow(r["accuracy_before"], r["accuracy_after"]),
                  arrow(r["mean_risk_before"], r["mean_risk_after"], 1.0, "{:.2f}"))
    console.print(t)


def _compact_json(text: str) -> str:
    """A JSON document re-written on one line without spaces (the last line a benchmark command prints)."""
    import json

    return json.dumps(json.loads(text), separators=(",", ":"))


def _report(result) -> None:
    print_analysis(console, result.analysis, f"sources on {result.fit_split} ({len(result.splits[result.fit_split])} rows)")
    print_failures(console, result.matrices[result.fit_split])
    print_metrics(console, result.metrics, final=result.final)
    print_risk(console, result.extra.get("report", {}))
    print_correction(console, result.extra.get("report", {}).get("correction", {}))
    for name, path in result.outputs.items():
        console.print(f"wrote {name}: {path}")
    for line in getattr(result, "replaced", []):
        console.print(f"output folder: {line}")
    print_stages(console, getattr(result, "stages", []))


from .outputs import register as _register_outputs  # noqa: E402  (predict, export, import, report)

_register_outputs(app)


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
