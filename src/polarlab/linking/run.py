"""``run_linking``: a linking project end to end -> labels file (+ review file, metrics.json)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.pubtator import Document, keep_types, mention_types
from ..errors import ConfigError
from ..export.atomic import atomic_path, write_text
from ..io.jsonout import dumps
from ..io.outputs import check_writable
from ..ontology.load import load_ontology
from ..ontology.terms import Ontology
from .candidates import MemoNameMatcher
from .choices import candidates_frame, xrefs_of
from .config import LABEL_FORMATS, LinkingProject
from .evaluate import link_accuracy, map_gold, mention_locations
from .mentions import MentionSet
from .pipeline import LinkRun, run_link
from .unlabelled import read_link_corpus, read_unlabelled

LABEL_COLUMNS = ["document_id", "start", "end", "mention", "linked_id", "name", "xrefs", "probability", "risk"]


@dataclass
class LinkingOutputs:
    """What :func:`run_linking` wrote and measured.

    Attributes:
        outputs: name -> path (``labels``, ``review``, ``metrics``).
        frame: the labels table.
        run: the :class:`LinkRun`.
        metrics: accuracies per linker and of the harmonized link when the corpus has gold ids.
    """

    outputs: dict[str, Path]
    frame: pd.DataFrame
    run: LinkRun
    metrics: dict[str, Any] = field(default_factory=dict)


def labels_frame(run: LinkRun, ontology: Ontology, output_xrefs: list[str]) -> pd.DataFrame:
    """One row per mention: document id, span, mention, linked id, name, xrefs (in the corpus's
    vocabularies, e.g. MESH/MIM), probability, risk, then each linker's top-1 id (``vote_<linker>``)."""
    ids = ontology.ids
    ms = run.mentions
    top = run.harmonized.ranking.entities[:, 0]
    prefixes = {p.upper() for p in output_xrefs}

    def xrefs(e: int) -> str:
        return "" if e < 0 else xrefs_of(ontology, ids[e], prefixes)

    frame = pd.DataFrame({
        "document_id": ms.doc_ids, "start": ms.starts, "end": ms.ends, "mention": ms.texts,
        "linked_id": [ids[e] if e >= 0 else "" for e in top],
        "name": [ontology.terms[ids[e]].name if e >= 0 else "" for e in top],
        "xrefs": [xrefs(int(e)) for e in top],
        "probability": run.harmonized.probability, "risk": run.harmonized.risk,
    })
    for name, r in run.rankings.items():
        frame[f"vote_{name}"] = [ids[e] if e >= 0 else "" for e in r.top1]
    return frame


def project_ontology(project: LinkingProject, base_dir: str | Path = ".") -> Ontology:
    """The ontology a linking project links to: its ``[ontology] paths``, relative ones read from ``base_dir`` (the
    project file's folder). :func:`run_linking` and the review's typed ids
    (:class:`polarlab.linking.review.OntologyIds`) load it here."""
    base = Path(base_dir)
    return load_ontology([Path(p) if Path(p).is_absolute() else base / p for p in project.ontology.paths])


def write_frame(frame: pd.DataFrame, path: Path) -> None:
    """Atomically write a table as .csv, .jsonl or .parquet."""
    suffix = path.suffix.lower()
    if suffix not in LABEL_FORMATS:
        raise ConfigError(f"unknown labels format {suffix!r}", column="output.labels", fix="use .csv, .jsonl or .parquet")
    with atomic_path(path) as tmp:
        if suffix == ".csv":
            frame.to_csv(tmp, index=False)
        elif suffix == ".jsonl":
            frame.to_json(tmp, orient="records", lines=True, force_ascii=False)
        else:
            frame.to_parquet(tmp, index=False)


def preflight(project: LinkingProject, base_dir: str | Path = ".", project_file: str | Path | None = None) -> None:
    """The checks of a linking project that read no ontology and no model, before its run starts (and is
    recorded): each of ``[linking] entity_types`` is a mention type of the PubTator corpus files (a scan of their
    mention lines, :func:`polarlab.data.pubtator.check_file_types`).

    Raises:
        ConfigError: naming the project file, the key, the corpus files and the types they have.
    """
    from ..data.pubtator import check_file_types

    base = Path(base_dir)
    corpus = [Path(p) if Path(p).is_absolute() else base / p for p in project.linking.corpus]
    check_file_types(project.linking.entity_types, corpus, "linking.entity_types", project_file)


def run_linking(project: LinkingProject, base_dir: str | Path = ".", output_dir: str | Path | None = None,
                state_dir: str | Path | None = None) -> LinkingOutputs:
    """Run a ``[task] kind = "linking"`` project: load the ontology and corpus, link, write the labels
    file (``output.labels``), the review file (the ``linking.review`` riskiest links) and metrics.json.

    Args:
        project: the validated project (:func:`polarlab.linking.config.load_linking_project`).
        base_dir: relative paths in the project are read from here (the project file's folder).
        output_dir: overrides ``[output] dir``.
        state_dir: cache folder for the unmodified encoder's vectors (default ``<base_dir>/.polarlab``).
    """
    base = Path(base_dir)
    res = lambda p: Path(p) if Path(p).is_absolute() else base / p  # noqa: E731
    out = Path(output_dir) if output_dir else res(project.output.dir)
    check_writable(out, None, "output.dir")             # before the slow work, not after it
    preflight(project, base)
    cfg = project.linking
    ontology = project_ontology(project, base)
    docs = read_link_corpus([res(p) for p in cfg.corpus], cfg.mentions)
    types = mention_types(docs)
    docs = keep_types(docs, cfg.entity_types, ", ".join(str(res(p)) for p in cfg.corpus))
    unlabelled: list[Document] = read_unlabelled([res(p) for p in cfg.unlabelled]) if cfg.unlabelled else list(docs)
    matcher = MemoNameMatcher(ontology)     # the documents to link are scanned once, here or by the linking job
    if cfg.mentions == "spans":
        mentions = MentionSet.from_documents(docs, cfg.window, cfg.expand_abbreviations)
    else:
        mentions = MentionSet.from_matches(docs, matcher, cfg.window, cfg.expand_abbreviations)
    gold = None
    if mentions.gold and any(mentions.gold):     # check gold ids before the slow work
        where = mention_locations(mentions, [res(p) for p in cfg.corpus])
        gold = map_gold(mentions.gold, ontology, cfg.gold_prefixes, cfg.bare_gold_prefix, where)
    cache = Path(state_dir) if state_dir else base / project.project.get("state_dir", ".polarlab")
    run = run_link(mentions, ontology, unlabelled, cfg, docs, cache_dir=cache / "embeddings", matcher=matcher,
                   llm_cache=cache / "llm_cache.sqlite")
    frame = labels_frame(run, ontology, cfg.output_xrefs)
    metrics = link_metrics(run, types, gold)
    outputs = write_outputs(frame, metrics, out, project.output.labels, cfg.review,
                            candidates_frame(run, ontology, cfg.output_xrefs))
    return LinkingOutputs(outputs, frame, run, metrics)


def link_metrics(run: LinkRun, mention_types: dict, gold=None) -> dict[str, Any]:
    """A linking run's metrics (as in its ``metrics.json``): the mention count and types, the phases' times and
    memory, and, when the mentions have gold ids (``gold``, :func:`polarlab.linking.evaluate.map_gold`), the
    accuracies of every linker and of the harmonized link."""
    metrics: dict[str, Any] = {"n_mentions": len(run.mentions), "mention_types": mention_types,
                               "phases": {k: vars(v) for k, v in run.phases.items()}}
    if gold is not None:
        from ..risk.calibration import calibration_report
        from .bench import lowest_risk_accuracy
        from .evaluate import hits_at

        metrics["linkers"] = {n: link_accuracy(r, gold) for n, r in run.rankings.items()}
        h, sel = run.harmonized, gold.has_gold
        right = hits_at(h.ranking, gold, 1)[sel]
        cal = calibration_report(h.risk[sel], ~right)           # as polarlab bench linking reports it
        metrics["harmonized"] = {**link_accuracy(h.ranking, gold), "risk_ece": cal.ece, "risk_auroc": cal.auroc,
                                 "acc_lowest_risk_80": lowest_risk_accuracy(h.risk[sel], right),
                                 "calibration": cal.to_dict()}
    usage = llm_usage(run)
    if usage:
        metrics["llm_usage"] = usage
    return metrics


def llm_usage(run: LinkRun) -> dict[str, dict]:
    """Calls made vs cache hits of the LLM linker ([linking.llm]) on the mentions and on the pseudo-dev mentions
    ({} without it)."""
    from ..jobs.record import step_usage

    names = {"stats": "llm linker", "dev_stats": "llm linker (pseudo-dev)"}
    return {names[k]: step_usage(run.llm[k]) for k in names if run.llm.get(k)}


def write_outputs(frame: pd.DataFrame, metrics: dict[str, Any], output_dir: str | Path, labels: str = "links.csv",
                  review: int = 50, candidates: pd.DataFrame | None = None) -> dict[str, Path]:
    """Write a linking run's files to ``output_dir`` and return them by name: ``labels`` (the table of
    :func:`labels_frame`, named ``labels``: .csv, .jsonl or .parquet), ``review`` (its ``review`` riskiest links,
    riskiest first, ``review.<suffix>`` beside it), ``metrics`` (``metrics.json``) and, when given, ``candidates``
    (:func:`polarlab.linking.choices.candidates_frame`, ``candidates.jsonl``: what ``polarlab review`` shows). A
    project run and ``polarlab bench linking --out DIR`` write their outputs through this one function."""
    out = Path(output_dir)
    labels_path = out / labels
    write_frame(frame, labels_path)
    riskiest = frame.sort_values("risk", ascending=False, kind="stable").head(review)
    review_path = labels_path.with_name(f"review{labels_path.suffix}")
    write_frame(riskiest, review_path)
    metrics_path = out / "metrics.json"
    write_text(metrics_path, dumps(metrics, indent=2, default=str))
    outputs = {"labels": labels_path, "review": review_path, "metrics": metrics_path}
    if candidates is not None:
        outputs["candidates"] = out / "candidates.jsonl"
        write_frame(candidates, outputs["candidates"])
    return outputs


def run_project(path: str | Path, output_dir: str | Path | None = None, progress: bool = True) -> dict[str, Path]:
    """``polarlab run`` of a ``[task] kind = "linking"`` project (see :func:`polarlab.tasks.project_runner`)."""
    from .config import load_linking_project

    from ..jobs.record import recorded_run
    from .job import job_paths

    path = Path(path)
    project = load_linking_project(path)
    preflight(project, path.parent, path)          # a wrong entity type: no run recorded, nothing loaded
    where = job_paths(project, path.parent)
    with recorded_run(path, "linking", where.state_dir, where.inputs) as notes:   # polarlab status reads it
        res = run_linking(project, base_dir=path.parent, output_dir=output_dir)
        notes.outputs = res.outputs
        notes.counts = {"mentions": len(res.frame), "linked": int((res.frame["linked_id"] != "").sum())}
        notes.llm = llm_usage(res.run)
    return res.outputs
