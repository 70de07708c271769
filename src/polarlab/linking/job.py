"""A linking project as ``polarlab status``, ``report`` and ``export`` read it (:class:`polarlab.jobs.kind.JobKind`)."""
from __future__ import annotations

from pathlib import Path

from ..jobs.export import need, write_table
from ..jobs.kind import ExportFormat, JobKind, JobPaths


def paths(project_file: Path) -> JobPaths:
    """The state folder and the files a linking run reads (ontologies, corpus, unlabelled text)."""
    from .config import load_linking_project

    return job_paths(load_linking_project(project_file), Path(project_file).parent)


def job_paths(project, base: Path) -> JobPaths:
    """:func:`paths` of a read :class:`polarlab.linking.config.LinkingProject` whose relative paths are read from
    ``base``."""
    res = lambda p: Path(p) if Path(p).is_absolute() else base / p  # noqa: E731
    cfg = project.linking
    inputs = [*project.ontology.paths, *cfg.corpus, *cfg.unlabelled]
    labels = res(project.output.dir) / project.output.labels        # as linking.run.write_outputs names them
    outputs = {"labels": labels, "review": labels.with_name(f"review{labels.suffix}"),
               "metrics": res(project.output.dir) / "metrics.json",
               "candidates": res(project.output.dir) / "candidates.jsonl"}
    return JobPaths(res(project.project.get("state_dir", ".polarlab")), tuple(res(p) for p in inputs), outputs)


def read_links(path: Path):
    """A labels file a linking run wrote (.csv, .jsonl or .parquet) as a DataFrame (document ids as strings)."""
    import pandas as pd

    read = {".csv": lambda p: pd.read_csv(p, dtype={"document_id": str}, keep_default_na=False),
            ".jsonl": lambda p: pd.read_json(p, lines=True, dtype={"document_id": str}),
            ".parquet": pd.read_parquet}[Path(path).suffix.lower()]
    return read(path)


def _links(outputs: dict[str, Path], dest: Path) -> int:
    """The labels file (one row per mention: span, linked id, name, xrefs, probability, risk, each linker's vote)
    in ``dest``'s format."""
    return write_table(read_links(need(outputs, "labels")), dest)


def quality(metrics: dict) -> list[tuple[str, str]]:
    """acc@1 / acc@5 of every linker and of the harmonized link, and the calibration of the link's risk (when the
    mentions have gold ids)."""
    from ..report.html import note, table

    head = note(f"{metrics.get('n_mentions')} mentions; types {metrics.get('mention_types')}")
    if "harmonized" not in metrics:
        return [("Link quality", head + note("no gold ids on the mentions: no accuracy, no risk calibration"))]
    keys = ("acc1_mappable", "acc5_mappable", "acc1_all", "acc5_all", "n_mappable", "n_all")
    rows = [[n, *[m.get(k) for k in keys]] for n, m in {**metrics.get("linkers", {}),
                                                       "harmonized (POLAR)": metrics["harmonized"]}.items()]
    acc = head + table(["linker", "acc@1 mappable", "acc@5 mappable", "acc@1 all", "acc@5 all", "mappable", "all"],
                       rows) + note("mappable: mentions whose gold id maps into the ontology; all: every mention "
                                    "with gold (unmappable ones count as wrong)")
    cal = metrics["harmonized"].get("calibration")
    ckeys = ("n", "error_rate", "mean_risk", "ece", "ece_floor", "auroc", "brier")
    risk = (table(list(ckeys), [[cal.get(k) for k in ckeys]]) + note("risk = 1 - P(link right); error = the top "
                                                                      "link is not a gold entity")
            if cal else note("no risk calibration in this run's metrics"))
    return [("Link quality", acc), ("Risk calibration", risk)]


JOB = JobKind(name="linking", paths=paths, quality=quality, unit="link", exports={
    fmt: ExportFormat(f".{fmt}", _links) for fmt in ("csv", "jsonl", "parquet")})
