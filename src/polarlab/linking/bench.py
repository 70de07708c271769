"""``polarlab bench linking``: every linker, the harmonized link and its risk on a PubTator corpus."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..config.base import validate
from ..data.pubtator import keep_types, mention_types, read_pubtator
from ..errors import InputError
from ..ontology.load import load_ontology
from ..risk import calibration_report
from .config import LinkingConfig
from .evaluate import GoldMap, hits_at, link_accuracy, map_gold, mention_locations
from .mentions import MentionSet
from .pipeline import LinkRun, peak_rss_mb, run_link
from .unlabelled import read_unlabelled

ABLATIONS = ("kriss_no_context", "kriss_with_context", "kriss_untrained", "kriss_names_only", "kriss_all_prototypes",
             "kriss_first_pass", "kriss_plain_names", "kriss_marked_names")


def corpus_files(directory: str | os.PathLike) -> tuple[list[Path], list[Path]]:
    """(files to link, unlabelled files) of a corpus folder: names containing ``test`` are linked,
    the other ``.txt`` files (train, dev) give unlabelled text."""
    d = Path(directory)
    if not d.is_dir():
        raise InputError("corpus folder not found", file=str(d), fix="give a folder of PubTator files")
    files = sorted(f for f in d.glob("*.txt") if f.name.upper() not in ("SOURCE.TXT", "LICENSE.TXT", "README.TXT"))
    test = [f for f in files if "test" in f.name.lower()]
    rest = [f for f in files if f not in test]
    if not test:
        raise InputError("no test file (a name containing 'test') in the corpus folder", file=str(d),
                         fix="name the PubTator file to link e.g. NCBItestset_corpus.txt")
    return test, rest


def lowest_risk_accuracy(risk: np.ndarray, correct: np.ndarray, share: float = 0.8) -> float:
    """Accuracy of the ``share`` of links with the lowest risk (ties by order)."""
    n = int(round(share * len(risk)))
    if n == 0:
        return float("nan")
    keep = np.argsort(risk, kind="stable")[:n]
    return float(np.mean(correct[keep]))


def linking_config(test_files: Sequence[Path], unl_files: Sequence[Path],
                   options: dict[str, Any] | None = None) -> LinkingConfig:
    """The ``[linking]`` settings of a bench run: the defaults, ``options`` over them; a bad setting is one
    :class:`~polarlab.errors.ConfigError` naming its key, before anything is loaded."""
    data = {"corpus": [str(f) for f in test_files], "unlabelled": [str(f) for f in unl_files], **(options or {})}
    return validate(LinkingConfig, data, file=None, prefix="linking", table="[linking]")


def bench_linking(corpus: str | os.PathLike, ontology: str | os.PathLike, cfg: LinkingConfig | None = None,
                  limit_docs: int | None = None, state_dir: str | os.PathLike | None = ".polarlab",
                  ablations: bool = True, unlabelled: Sequence[str | os.PathLike] = (),
                  options: dict[str, Any] | None = None, harmonizer_seed: int | None = None) -> dict[str, Any]:
    """Link the corpus's test mentions; score every linker, the ablations and the harmonized link.

    ``harmonizer_seed``: the POLAR harmonizer's seed alone (default ``[linking] seed``, which also seeds the
    contrastive training, the pseudo-dev set and the prototype sample), see :func:`run_link`.

    Returns:
        ``{"linkers": {name: {acc1_mappable, acc5_mappable, acc1_all, acc5_all}}, "ablations": {...},
        "harmonized": {..., "risk_ece", "risk_auroc", "acc_lowest_risk_80", "calibration"},
        "n_mentions", "n_mappable", "n_selfsup", "universe", "n_prototypes", "train", "seconds",
        "peak_rss_mb"}`` (see :func:`bench_report`).
    """
    return bench_report(*bench_run(corpus, ontology, cfg, limit_docs, state_dir, ablations, unlabelled, options,
                                   harmonizer_seed))


def bench_run(corpus: str | os.PathLike, ontology: str | os.PathLike, cfg: LinkingConfig | None = None,
              limit_docs: int | None = None, state_dir: str | os.PathLike | None = ".polarlab",
              ablations: bool = True, unlabelled: Sequence[str | os.PathLike] = (),
              options: dict[str, Any] | None = None,
              harmonizer_seed: int | None = None) -> tuple[LinkRun, GoldMap, dict[str, Any]]:
    """The expensive part of the bench: load, self-supervise, train, link, harmonize.

    ``unlabelled``: more text files for self-supervision beside the corpus's train/dev files
    (PubTator, BEIR JSONL or plain text, :mod:`polarlab.linking.unlabelled`); ``options``: other
    ``[linking]`` settings than the defaults (when ``cfg`` is not given)."""
    t0 = time.perf_counter()
    test_files, unl_files = corpus_files(corpus)
    unl_files = unl_files + [Path(p) for p in unlabelled]
    cfg = cfg or linking_config(test_files, unl_files, options)
    onto = load_ontology(ontology)
    docs = [d for f in test_files for d in read_pubtator(f)]
    if limit_docs:
        docs = docs[:limit_docs]
    types = mention_types(docs)
    docs = keep_types(docs, cfg.entity_types, ", ".join(map(str, test_files)))
    texts = read_unlabelled(unl_files)
    if not texts:
        raise InputError("no unlabelled text for self-supervision (train/dev files)", file=str(corpus),
                         fix="put the train/dev PubTator files beside the test file")
    mentions = MentionSet.from_documents(docs, cfg.window, cfg.expand_abbreviations)
    gold = map_gold(mentions.gold, onto, cfg.gold_prefixes, cfg.bare_gold_prefix, mention_locations(mentions, test_files))
    load_s = time.perf_counter() - t0
    cache = Path(state_dir) / "embeddings" if state_dir else None
    run = run_link(mentions, onto, texts, cfg, docs, cache_dir=cache, ablations=ablations,
                   harmonizer_seed=harmonizer_seed,
                   llm_cache=Path(state_dir) / "llm_cache.sqlite" if state_dir else ":memory:")
    seeds = {"seed": cfg.seed, "harmonizer_seed": cfg.seed if harmonizer_seed is None else harmonizer_seed,
             "n_seeds": cfg.harmonizer.n_seeds}
    return run, gold, {"load_seconds": load_s, "t0": t0, "n_docs": len(docs), "n_unlabelled_docs": len(texts),
                       "seeds": seeds, "mention_types": types, "entity_types": list(cfg.entity_types),
                       "ontology": onto, "config": cfg}


def write_bench_outputs(run: LinkRun, gold: GoldMap, meta: dict[str, Any], report: dict[str, Any],
                        output_dir: str | os.PathLike) -> dict[str, Path]:
    """Write the files a linking project run writes (:func:`polarlab.linking.run.write_outputs`) for a bench run
    (:func:`bench_run`, :func:`bench_report`): ``links.csv`` (one row per test mention: document id, span, mention,
    linked id, name, xrefs, probability, risk, each linker's top-1), ``review.csv`` (the ``[linking] review``
    riskiest), ``metrics.json`` (the project run's metrics with the bench's result over them) and ``candidates.jsonl``
    (each mention's sentence and top candidates). Returns them by name."""
    from .choices import candidates_frame
    from .config import OutputConfig
    from .run import labels_frame, link_metrics, write_outputs

    cfg: LinkingConfig = meta["config"]
    frame = labels_frame(run, meta["ontology"], cfg.output_xrefs)
    metrics = {**link_metrics(run, meta["mention_types"], gold), **report}
    return write_outputs(frame, metrics, output_dir, OutputConfig().labels, cfg.review,
                         candidates_frame(run, meta["ontology"], cfg.output_xrefs))


def coverage_report(run: LinkRun, gold: GoldMap) -> dict[str, Any]:
    """How much the self-supervision reaches the mentions to link (gold used only to report).

    A mappable mention is *covered* when one of its gold terms has a self-supervised mention (its
    name occurs in the unlabelled text), and *has a prototype* when one of them has a KRISS prototype
    in context. Accuracy@1 of every linker is given on the covered and on the uncovered mentions.
    """
    mp = gold.mappable
    covered = np.array([bool(g & run.selfsup_entities) for g in gold.entities]) & mp
    proto = np.array([bool(g & run.prototype_entities) for g in gold.entities]) & mp
    out: dict[str, Any] = {"selfsup_mentions": run.n_selfsup, "selfsup_entities": len(run.selfsup_entities),
                           "prototype_entities": len(run.prototype_entities),
                           "mappable_covered": int(covered.sum()), "mappable_with_prototype": int(proto.sum()),
                           "share_covered": float(covered.sum() / max(1, mp.sum())),
                           "share_with_prototype": float(proto.sum() / max(1, mp.sum())), "acc1": {}}
    for name, r in {**run.rankings, "harmonized": run.harmonized.ranking}.items():
        h1 = hits_at(r, gold, 1)
        out["acc1"][name] = {"covered": float(h1[covered].mean()) if covered.any() else float("nan"),
                             "not_covered": float(h1[mp & ~covered].mean()) if (mp & ~covered).any() else float("nan")}
    return out


def llm_risk_report(run: LinkRun, gold: GoldMap) -> dict[str, Any]:
    """The POLAR risk of the LLM linker's links (1 - the harmonized distribution without its column at its
    link) against its link errors: ECE (with its noise floor) and AUROC, on the mentions with gold and on the
    mappable ones; an abstention counts as an error."""
    top1 = np.asarray(run.llm["top1"])
    risk = np.asarray(run.llm["risk"])
    wrong = np.array([not (e >= 0 and int(e) in g) for e, g in zip(top1, gold.entities)])
    out: dict[str, Any] = {}
    for tag, sel in (("", gold.has_gold), ("mappable_", gold.mappable)):
        cal = calibration_report(risk[sel], wrong[sel])
        out[f"llm_risk_{tag}ece"] = cal.ece
        out[f"llm_risk_{tag}ece_floor"] = cal.to_dict().get("ece_floor")
        out[f"llm_risk_{tag}auroc"] = cal.auroc
    out["llm_risk_mean"] = float(np.mean(risk[gold.has_gold])) if gold.has_gold.any() else float("nan")
    return out


def bench_report(run: LinkRun, gold: GoldMap, meta: dict[str, Any]) -> dict[str, Any]:
    """Accuracies of every ranking, the harmonized link's risk calibration, times and memory."""
    is_ablation = lambda name: name in ABLATIONS or name.startswith("kriss_self_train_")  # noqa: E731
    linkers = {n: link_accuracy(r, gold) for n, r in run.rankings.items() if not is_ablation(n)}
    abl = {n: link_accuracy(r, gold) for n, r in run.rankings.items() if is_ablation(n)}
    h = run.harmonized
    correct = hits_at(h.ranking, gold, 1)
    sel = gold.has_gold
    cal = calibration_report(h.risk[sel], ~correct[sel])
    harm = link_accuracy(h.ranking, gold)
    harm.update({"risk_ece": cal.ece, "risk_auroc": cal.auroc,
                 "acc_lowest_risk_80": lowest_risk_accuracy(h.risk[sel], correct[sel]),
                 "calibration": cal.to_dict()})
    mp = gold.mappable
    cal_m = calibration_report(h.risk[mp], ~correct[mp])
    harm["mappable"] = {"risk_ece": cal_m.ece, "risk_auroc": cal_m.auroc,
                        "acc_lowest_risk_80": lowest_risk_accuracy(h.risk[mp], correct[mp])}
    if run.llm:
        harm.update(llm_risk_report(run, gold))
    tr = run.trainer
    harm["pseudo_dev"] = run.pseudo_dev
    if run.first_pass is not None:
        harm["first_pass"] = link_accuracy(run.first_pass.ranking, gold)
    for name, v in run.variants.items():
        ok = hits_at(v.ranking, gold, 1)
        c = calibration_report(v.risk[mp], ~ok[mp])
        harm[name] = link_accuracy(v.ranking, gold) | {"mappable_risk_ece": c.ece, "mappable_risk_auroc": c.auroc}
    seconds = {"load": meta["load_seconds"], **{k: v.seconds for k, v in run.phases.items()}}
    fits = [run.harmonized, *([run.first_pass] if run.first_pass is not None else []), *run.variants.values()]
    # inside the phases above: the first and last pass and the variants (not the self-training rounds between)
    seconds["polar"] = sum(f.polar_seconds for f in fits)
    train_keys = ("selfsup_matching", "contrastive_training")
    return {
        "linkers": linkers, "ablations": abl, "harmonized": harm,
        "n_mentions": len(run.mentions), "n_mappable": int(mp.sum()), "n_docs": meta["n_docs"],
        "n_unlabelled_docs": meta.get("n_unlabelled_docs"), "seeds": meta.get("seeds"),
        "mention_types": meta.get("mention_types"), "entity_types": meta.get("entity_types"),
        "n_selfsup": run.n_selfsup, "coverage": coverage_report(run, gold), "universe": int(len(run.universe)), "n_prototypes": run.n_prototypes,
        "train": None if tr is None else {"examples": tr.n_examples_, "steps": tr.n_steps_, "seconds": tr.seconds_,
                                          "loss_first": tr.losses_[0] if tr.losses_ else None,
                                          "loss_last": tr.losses_[-1] if tr.losses_ else None},
        "seconds": {**seconds, "selfsup_total": sum(seconds.get(k, 0.0) for k in train_keys),
                    "linking_total": sum(v for k, v in seconds.items()
                                         if k not in train_keys + ("load", "ablations", "polar")),
                    "total": time.perf_counter() - meta["t0"]},
        "peak_rss_mb": {k: v.peak_rss_mb for k, v in run.phases.items()} | {"end": peak_rss_mb()},
        **({"llm": {"test": dict(run.llm["stats"]), "pseudo_dev": dict(run.llm.get("dev_stats") or {}),
                    "debias": run.llm.get("debias"), "pseudo_dev_acc_by_debias": run.llm.get("dev_acc_by_debias"),
                    "seconds": sum(run.phases[k].seconds for k in ("llm_link", "llm_pseudo_dev", "llm_harmonize")
                                   if k in run.phases)}} if run.llm else {}),
    }
