"""``polarlab bench linking`` and ``polarlab link``: ontology entity linking with a risk per link."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def bench_linking_cmd(
        corpus: Path = typer.Option(..., "--corpus", help="PubTator folder: *test* file linked, the others unlabelled"),
        ontology: Path = typer.Option(..., "--ontology", help="ontology folder or file (OBO / TSV)"),
        json_out: Optional[Path] = typer.Option(None, "--json", help="also write the JSON result here"),
        out: Optional[Path] = typer.Option(None, "--out", help="also write the files a linking project run writes "
                                                               "to this folder: links.csv (the harmonized link of "
                                                               "each test mention with its probability and risk), "
                                                               "review.csv and metrics.json"),
        limit_docs: Optional[int] = typer.Option(None, help="link only the first N test documents"),
        state_dir: Path = typer.Option(Path(".polarlab"), help="cache folder (vectors of the unmodified encoder)"),
        ablations: bool = typer.Option(True, help="also run KRISS without context / training / context prototypes"),
        unlabelled: list[Path] = typer.Option([], "--unlabelled",
                                              help="more text for self-supervision (PubTator, BEIR JSONL, plain text); repeatable"),
        entity_type: list[str] = typer.Option([], "--entity-type",
                                              help="link only mentions of this PubTator type (e.g. Disease); repeatable"),
        llm: str = typer.Option("none", "--llm", help="the LLM linker ([linking.llm] backend): none (default), "
                                                      "local (embedded Gemma 3 270M) or another registered backend"),
        verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Every linker, the ablations and the POLAR-harmonized link on the corpus's test mentions.

    Prints a table, then one JSON object as the last line:
    {"linkers": {"exact": {"acc1_mappable", "acc5_mappable", "acc1_all", ...}, "sparse", "names_dense", "kriss"},
    "harmonized": {..., "risk_ece", "risk_auroc", "acc_lowest_risk_80"}, "ablations": {...}, "seconds", ...}.
    With --out DIR the links are written as a linking project run (`polarlab link`, `polarlab run`) writes them:
    DIR/links.csv (document id, span, mention, linked id, name, xrefs, probability, risk, each linker's top-1),
    DIR/review.csv (the riskiest links) and DIR/metrics.json (the project run's metrics, the JSON result over them);
    a "wrote NAME: PATH" line for each comes before the JSON line.
    """
    from ..errors import PolarlabError
    from ..export.labels import to_json, write_json
    from ..io.outputs import check_writable
    from ..linking.bench import bench_report, bench_run, write_bench_outputs
    from .main import _compact_json, _fail, _setup_logging, console

    _setup_logging(verbose)
    try:
        if out is not None:
            check_writable(out, None, "--out")
        options: dict = {"entity_types": entity_type} if entity_type else {}
        if llm != "none":
            options["llm"] = {"backend": llm}
        run, gold, meta = bench_run(corpus, ontology, limit_docs=limit_docs, state_dir=state_dir,
                                    ablations=ablations, unlabelled=unlabelled, options=options or None)
        result = bench_report(run, gold, meta)
        written = write_bench_outputs(run, gold, meta, result, out) if out is not None else {}
    except PolarlabError as e:
        _fail(e)
    if json_out is not None:
        write_json(result, json_out)
    print_linking(console, result)
    for name, path in written.items():
        console.print(f"wrote {name}: {path}", highlight=False, soft_wrap=True)
    print(_compact_json(to_json(result)))


def link_cmd(project: Path = typer.Argument(..., help="a project file with [task] kind = \"linking\""),
             out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: the project's [output] dir)"),
             progress: bool = typer.Option(True, help="accepted as `polarlab run` accepts it (a linking run "
                                                      "shows no progress bar)"),
             verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run a linking project: labels file (document id, span, mention, linked id, name, probability, risk).
    The same as `polarlab run` on it, with the same options."""
    from ..errors import PolarlabError
    from ..linking.config import load_linking_project
    from ..linking.run import run_linking
    from .main import _fail, _setup_logging, console

    _setup_logging(verbose)
    try:
        proj = load_linking_project(project)
        result = run_linking(proj, base_dir=project.parent, output_dir=out)
    except PolarlabError as e:
        _fail(e, project)
    print_link_metrics(console, result.metrics)
    for name, path in result.outputs.items():
        console.print(f"wrote {name}: {path}")


def print_link_metrics(console, metrics: dict) -> None:
    """The accuracy table of a linking project's run (``polarlab link``, ``polarlab run``) from its metrics (as in
    its ``metrics.json``) when the mentions had gold ids; nothing when they had none."""
    if "harmonized" not in metrics:
        return
    harmonized = metrics["harmonized"]
    print_linking(console, {"linkers": metrics.get("linkers", {}), "harmonized": harmonized,
                            "n_mentions": metrics.get("n_mentions"), "n_mappable": harmonized.get("n_mappable")})


def print_linking(console, result: dict) -> None:
    """Accuracy table: one row per linker (and ablation), then the harmonized link."""
    from rich.table import Table

    def pct(v) -> str:
        return "-" if v is None or v != v else f"{100 * v:.1f}"

    t = Table(title=f"entity linking ({result.get('n_mentions', '?')} mentions, {result.get('n_mappable', '?')} mappable)")
    for c in ("linker", "acc@1 mappable", "acc@5 mappable", "acc@1 all", "acc@5 all"):
        t.add_column(c)
    rows = list(result.get("linkers", {}).items()) + list(result.get("ablations", {}).items())
    rows.append(("harmonized (POLAR)", result["harmonized"]))
    for name, r in rows:
        t.add_row(name, pct(r.get("acc1_mappable")), pct(r.get("acc5_mappable")), pct(r.get("acc1_all")),
                  pct(r.get("acc5_all")))
    console.print(t)
    h = result["harmonized"]
    if "risk_ece" in h:
        console.print(f"risk of the harmonized link: ECE {h['risk_ece']:.3f} (noise floor "
                      f"{h['calibration']['ece_floor']:.3f}), AUROC {h['risk_auroc']:.3f}, accuracy of the "
                      f"lowest-risk 80 % {pct(h['acc_lowest_risk_80'])} %")
    if "llm_risk_ece" in h:
        wo = h.get("harmonized_without_llm") or {}
        console.print(f"harmonized without the LLM linker: acc@1 mappable {pct(wo.get('acc1_mappable'))}, acc@1 all "
                      f"{pct(wo.get('acc1_all'))}; risk of the LLM's links: ECE {h['llm_risk_ece']:.3f} (noise floor "
                      f"{h['llm_risk_ece_floor']:.3f}), AUROC {h['llm_risk_auroc']:.3f}")
    dev = h.get("pseudo_dev") or {}
    if dev.get("calibrated"):
        console.print(f"pseudo-dev (no gold): {dev['n']} held-out self-supervised mentions, {dev['n_hidden']} with "
                      f"their name hidden; ranking kept: {dev['chosen']} (accuracy there: POLAR "
                      f"{pct(dev['acc_polar'])} %, combination {pct(dev['acc_combined_cv'])} % cross-validated); "
                      f"link probability: risk model {dev.get('risk_model')!r} (lowest cross-validated log loss there)")
    if dev.get("kriss_acc_by_window"):
        accs = ", ".join(f"window {w}: {pct(a)} %" for w, a in dev["kriss_acc_by_window"].items())
        console.print(f"KRISS context chosen on the pseudo-dev set: window {dev['kriss_window']} ({accs})")
    cov = result.get("coverage")
    if cov:
        acc = cov["acc1"]
        line = ", ".join(f"{n} {pct(acc[n]['covered'])}/{pct(acc[n]['not_covered'])}"
                         for n in ("names_dense", "kriss", "harmonized") if n in acc)
        console.print(f"self-supervision: {cov['selfsup_mentions']} mentions of {cov['selfsup_entities']} terms; "
                      f"{pct(cov['share_covered'])} % of the mappable mentions' terms have one "
                      f"({pct(cov['share_with_prototype'])} % a prototype); acc@1 covered/not covered: {line}")
