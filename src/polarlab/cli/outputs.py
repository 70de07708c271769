"""CLI commands for a project's outputs: ``endmodel``, ``predict``, ``export``, ``import``, ``report``.

Registered in :mod:`polarlab.cli.main` with ``register(app)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def _errors():
    from ..errors import PolarlabError
    from .main import _fail, console

    return PolarlabError, _fail, console


def _project(path: Path):
    from ..project import load_project

    return load_project(path)


def endmodel(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
             model: str = typer.Option("logreg", help="logreg (LR on sentence embeddings) | transformer "
                                                      "(fine-tuned MiniLM; minutes on CPU)"),
             self_training: bool = typer.Option(False, "--self-training", help="self-train on the unlabelled rows"),
             epochs: Optional[int] = typer.Option(None, help="transformer: passes over the data"),
             out: Optional[Path] = typer.Option(None, "--out", help="model folder (default: <output>/endmodel)"),
             augment: Optional[Path] = typer.Option(None, "--augment", help="a Python file of transformation "
                                                    "functions applied to the training rows (labels copied)"),
             policy: str = typer.Option("mean_field", help="augmentation policy: mean_field | random"),
             n_per_original: int = typer.Option(2, help="augmented rows made per training row"),
             sequence_length: int = typer.Option(2, help="transformation functions applied in a row"),
             filter_unlabeled: bool = typer.Option(True, "--filter-unlabeled/--keep-unlabeled",
                                                   help="drop the rows no source voted on (default) / train on "
                                                        "every row of the fit split"),
             min_proba: Optional[float] = typer.Option(None, "--min-proba", help="also drop rows whose label's "
                                                       "probability is below this (reviewed rows are kept)")
             ) -> None:
    """Train the end model on the project's final labels (soft labels, 1 - risk weights, reviewed rows).

    Runs the project's stages first (unchanged ones are skipped), then the ``endmodel`` stage."""
    from ..endmodel.stage import train_end_model
    from ..endmodel.training import TrainingRows

    PolarlabError, fail, console = _errors()
    options = {"epochs": epochs} if epochs is not None else {}
    try:
        training = TrainingRows(filter_unlabeled=filter_unlabeled, min_proba=min_proba, augment=augment,
                                policy=policy, n_per_original=n_per_original, sequence_length=sequence_length)
        run, report = train_end_model(_project(project), model, self_training=self_training, options=options,
                                      out=out, training=training)
    except PolarlabError as e:
        fail(e)
    r = report.report
    if report.action == "skipped":
        console.print("end model unchanged since the last run (same options, labels and human answers): skipped")
    else:
        t = r["trained_on"]
        console.print(f"trained {model} on {t['rows']} rows of {t['split']} ({t['reviewed']} reviewed) "
                      f"in {report.seconds:.1f}s")
        if t.get("augmented"):
            a = t["augmented"]
            console.print(f"augmented: +{a['rows']} rows ({a['policy']} policy; provenance in {a['provenance']})")
        if r.get("self_training"):
            console.print(f"self-training: kept round {r['self_training']['best_round']}, "
                          f"stopped: {r['self_training']['stop_reason']}")
    if r.get("evaluation"):
        m = r["evaluation"]["metrics"]
        console.print(f"{r['evaluation']['split']}: {m['wrench_metric_name']} = {m['wrench_metric']:.3f}, "
                      f"accuracy = {m['accuracy']:.3f} (n = {m['n']})")
    console.print(f"the model: {r['path']}")


def predict(model: Path = typer.Argument(..., help="a saved end model folder"),
            data: Path = typer.Argument(..., help="CSV / JSONL / Parquet file with a text column"),
            out: Optional[Path] = typer.Option(None, "--out", help="write predictions here (.csv/.jsonl/.parquet); "
                                                                   "default: print the first rows"),
            text_column: Optional[str] = typer.Option(None, help="text column (default: the project's \\[data] "
                                                                 "text_column, else 'text')"),
            id_column: Optional[str] = typer.Option(None, help="id column (default: the project's \\[data] "
                                                               "id_column when the file has it, else the row number)"),
            batch_size: int = typer.Option(1024, help="rows per batch (encoded, predicted and written together)"),
            progress: bool = typer.Option(True, help="show a progress bar")) -> None:
    """Label new data with a saved end model: id, label, probability and p_<label> per class."""
    from ..endmodel import load_end_model, predict_file, predict_frame
    from ..endmodel.heap import return_freed_memory
    from ..endmodel.predict import check_paths

    PolarlabError, fail, console = _errors()
    try:
        check_paths(data, out)
        return_freed_memory()      # resident memory stays flat over many batches (this process is ours)
        m = load_end_model(model)
        from .main import err

        def note(line: str) -> None:
            err.print(line, markup=False, highlight=False, soft_wrap=True)

        if out is None:
            frame = predict_frame(m, data, text_column=text_column, id_column=id_column, batch_size=batch_size,
                                  progress=progress, note=note)
        else:
            rows, path = predict_file(m, data, out, text_column=text_column, id_column=id_column,
                                      batch_size=batch_size, progress=progress, note=note)
    except PolarlabError as e:
        fail(e)
    if out is None:
        console.print(frame.head(20).to_string(index=False))
    else:
        console.print(f"wrote {rows} predictions: {path}")


def _job(project: Path):
    """The :class:`polarlab.jobs.kind.JobKind` of a spans / linking / relevance project, None for a label task."""
    from ..project import peek_task_kind
    from ..tasks import project_job

    return project_job(peek_task_kind(project))


def export(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
           fmt: str = typer.Option("csv", "--format", help="csv | jsonl | parquet | hf | label-studio | argilla; "
                                   "spans: csv | parquet | jsonl | conll | pubtator; linking, relevance: csv | "
                                   "jsonl | parquet"),
           out: Optional[Path] = typer.Option(None, "--out", help="output file/folder (default: the format's "
                                                                  "name in <output>/export/)")) -> None:
    """Export the final labels with probabilities, risk and provenance (votes, corrections, reviewers).

    A spans, linking or relevance project: the labels its last run wrote (spans, links, query-document pairs)."""
    from ..export.formats import export as run_export
    from ..export.project import load_project_labels

    PolarlabError, fail, console = _errors()
    job = _job(project)
    if job is not None:
        from ..jobs.export import job_export

        try:
            path, rows = job_export(project, job, fmt, out)
        except PolarlabError as e:
            fail(e)
        console.print(f"wrote {rows} {job.unit}s ({fmt}): {path}", highlight=False, soft_wrap=True)
        return
    try:
        proj = _project(project)
        from ..export.formats import EXPORT_FORMATS
        from ..errors import ConfigError

        if fmt not in EXPORT_FORMATS:   # before reading anything
            raise ConfigError(f"unknown export format {fmt!r}", column="--format",
                              fix=f"use one of {sorted(EXPORT_FORMATS)}")
        labels = load_project_labels(proj)
        path = run_export(labels.data, fmt, out, proj.output_dir)
    except PolarlabError as e:
        fail(e)
    console.print(f"wrote {len(labels.data.ids)} examples ({fmt}, labels from the {labels.origin}, "
                  f"{len(labels.data.human)} human answers): {path}")


def import_(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
            file: Path = typer.Argument(..., help="Label Studio JSON / JSON-MIN export, or Argilla records JSON"),
            tool: Optional[str] = typer.Option(None, help="label-studio | argilla (default: detected)")) -> None:
    """Import finished annotations as human votes (who, when) into the project state."""
    from ..export.formats import IMPORTERS, sniff_import_format
    from ..export.project import add_human_votes, load_project_labels

    PolarlabError, fail, console = _errors()
    try:
        from ..errors import ConfigError

        proj = _project(project)
        kind = tool or sniff_import_format(file)
        if kind not in IMPORTERS:
            raise ConfigError(f"unknown tool {kind!r}", column="--tool", fix=f"use one of {sorted(IMPORTERS)}")
        labels = load_project_labels(proj)
        text_ids = dict(zip(labels.data.texts, labels.data.ids))
        votes = IMPORTERS[kind](file, proj.task, text_ids=text_ids)
        n = add_human_votes(proj, votes, labels)
    except PolarlabError as e:
        fail(e)
    people = sorted({v.annotator for v in votes})
    console.print(f"imported {n} human answers ({kind}) from {len(people)} people on "
                  f"{len({(v.split, v.example_id) for v in votes})} examples")


def report(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
           out: Optional[Path] = typer.Option(None, "--out", help="HTML file (default: <output>/report.html)"),
           slices: Optional[Path] = typer.Option(None, "--slices", help="a Python file of slicing functions: adds "
                                                 "a per-slice table (coverage, label quality, risk, end model)")
           ) -> None:
    """Write one self-contained HTML report of the run (figures inlined; opens without a network).

    A spans, linking or relevance project: its last run's outputs, quality figures, risk calibration, LLM usage."""
    from ..report.project import project_report

    PolarlabError, fail, console = _errors()
    job = _job(project)
    try:
        if job is not None:
            from ..errors import ConfigError
            from ..jobs.report import job_report

            if slices is not None:
                raise ConfigError(f"--slices reads the rows of a label task; a {job.name} project has none",
                                  column="--slices", fix="leave --slices out")
            path = job_report(project, job, out)
        else:
            path = project_report(_project(project), out, slices)
    except PolarlabError as e:
        fail(e)
    console.print(f"wrote the report: {path}")


def register(app: typer.Typer) -> None:
    """Add the output commands to the ``polarlab`` app."""
    app.command()(endmodel)
    app.command()(predict)
    app.command()(export)
    app.command("import")(import_)
    app.command()(report)
