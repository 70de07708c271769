"""NCBI-disease span benchmark: every source alone, majority vote (skweak's convention and plain),
token Dawid–Skene, skweak's HMM on the same sources, and the harmonized spans; risk calibration.

Two runs on the NCBI-disease test split (no gold used for fitting; gold only scores):
``rules`` — all documents, the Disease Ontology dictionary and three built-in span functions;
``with_llm`` — the first ``llm_docs`` documents, the same sources plus the embedded LLM (slow on
CPU, hence a prefix of the documents), and the correction of the riskiest harmonized spans.
With ``[harmonizer] level = "auto"`` (the default) both runs also report each level's own spans
(``harmonized_span_level``, ``harmonized_token_level``, each with its own majority-vote fallback)
beside the chosen ones.
"""
from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .config import SpansConfig
from .features import token_features
from .io import read_pubtator
from .run import MethodResult, aggregate_all, build_source, evaluate_methods, harmonizer_info, write_outputs
from .skweak_hmm import skweak_hmm_spans
from .tokenize import tokenize
from .types import SpanDoc
from .votes import apply_span_sources

log = logging.getLogger(__name__)


def rule_sources(do_dir: Path) -> list[dict]:
    return [{"type": "dictionary", "name": "disease_ontology", "ontology": str(do_dir)},
            {"type": "function", "name": "disease_heads"},
            {"type": "function", "name": "disease_suffixes"},
            {"type": "function", "name": "disease_acronyms"}]


def _features(docs: Sequence[SpanDoc], kind: str, state_dir: Path) -> np.ndarray:
    """Token features, cached in ``state_dir`` by a hash of the texts and the kind."""
    h = hashlib.sha256(("\x00".join(d.text for d in docs) + kind).encode()).hexdigest()[:16]
    path = Path(state_dir) / f"span_features_{kind}_{h}.npy"
    if path.exists():
        return np.load(path)
    X = token_features(docs, [tokenize(d.text) for d in docs], kind)
    path.parent.mkdir(parents=True, exist_ok=True)
    from ..export.atomic import atomic_path
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, X)
    return X


def _one_run(docs, X, cfg: SpansConfig, correct_fraction: float = 0.0,
             output: Path | None = None) -> tuple[dict, dict[str, Path]]:
    """One run's result and, with ``output`` (a spans file), the files a project run writes: the harmonized spans
    there and the result as ``metrics.json`` beside them (when the documents have gold spans)."""
    t0 = time.perf_counter()
    sources = [build_source(s, cfg.state_dir, docs) for s in cfg.sources]
    votes = apply_span_sources(docs, sources, cfg.types)
    t_src = time.perf_counter() - t0
    t0 = time.perf_counter()
    methods, h = aggregate_all(votes, X, cfg)
    t_agg = time.perf_counter() - t0
    members = getattr(h, "members_", {})                # level "auto": both levels, for comparison
    for lvl, m in members.items():
        methods[f"harmonized_{lvl}_level"] = MethodResult(*m.predict_spans(votes, X))
    t0 = time.perf_counter()
    hmm, info = skweak_hmm_spans(votes)
    methods["skweak_hmm"] = MethodResult(hmm)
    t_hmm = time.perf_counter() - t0
    out = {"n_docs": len(docs), "n_gold": sum(len(d.spans) for d in docs), "sources": votes.sources,
           "harmonizer": {**harmonizer_info(h, cfg.harmonizer.level),
                          "levels": {lvl: harmonizer_info(m, lvl) for lvl, m in members.items()}},
           "skweak": info}
    llm = next((s for s in sources if hasattr(getattr(s, "src", s), "stats")), None)
    if llm is not None:
        out["llm"] = dict(getattr(llm, "src", llm).stats)
    correct_budget = int(round(correct_fraction * sum(len(S) for S in methods["harmonized"].spans)))
    if correct_budget and llm is not None:
        from .correct import SpanVerifier, verify_spans
        ver = SpanVerifier(getattr(llm, "src", llm).backend, cache=Path(cfg.state_dir) / "llm_cache.sqlite")
        hm = methods["harmonized"]
        t0 = time.perf_counter()
        fixed, audit = verify_spans(docs, hm.spans, hm.probs, ver, correct_budget)
        keep = [np.array([p for s, p in zip(S, P) if s.key in {f.key for f in F}])
                for S, P, F in zip(hm.spans, hm.probs, fixed)]
        methods["harmonized_corrected"] = MethodResult(fixed, keep)
        gold = {(d.id, s.key) for d in docs for s in d.spans}
        wrong = [(a["doc"], (a["start"], a["end"], "Disease")) not in gold for a in audit]
        out["correction"] = {"asked": len(audit), "dropped": sum(not a["kept"] for a in audit),
                             "slice_error_before": float(np.mean(wrong)) if wrong else None,
                             "dropped_were_wrong": sum(w and not a["kept"] for w, a in zip(wrong, audit)),
                             "kept_were_wrong": sum(w and a["kept"] for w, a in zip(wrong, audit)),
                             "llm": dict(ver.stats), "seconds": time.perf_counter() - t0}
    out.update(evaluate_methods(docs, methods))
    from ..risk.calibration import calibration_report
    from .evaluate import span_errors
    err = span_errors(methods["harmonized"].spans, [d.spans for d in docs])
    if err.size:
        out["risk_variants"] = {"harmonized_h_alone": calibration_report(
            1.0 - np.concatenate(h.h_alone_probs_), err).to_dict()}
        from .span_harmonize import SPAN_RISKS
        if hasattr(h, "members_"):              # level "auto": the same spans scored by each risk of SPAN_RISKS
            spans = methods["harmonized"].spans
            for name in SPAN_RISKS:
                probs = h.span_probabilities(votes, X, spans, risk=name)
                out["risk_variants"][f"harmonized_risk_{name}"] = calibration_report(
                    1.0 - np.concatenate(probs), err).to_dict()
    out["seconds"] = {"sources": t_src, "aggregate": t_agg, "skweak_hmm": t_hmm}
    written = {} if output is None else write_outputs(output, docs, methods, cfg.types,
                                                      out if out["n_gold"] else None)
    return out, written


def bench_spans(data: Path, ontology: Path, *, llm_docs: int = 0, state_dir: Path = Path(".polarlab"),
                features: str = "minilm", limit: int | None = None, correct_budget: float = 0.1,
                max_tokens: int = 24, n_threads: int = 1, out_dir: Path | None = None,
                mention_types: Sequence[str] = ()) -> dict:
    """The benchmark's JSON result (see the module docstring).

    Args:
        data: the NCBI-disease PubTator file to score (the test split).
        mention_types: keep only the mentions of these PubTator types as gold (a project's ``[data]
            mention_types``; case-insensitive; empty = every type); echoed as ``"mention_types"``.
        ontology: the Disease Ontology folder.
        llm_docs: documents (a prefix) for the run with the LLM; 0 skips it.
        correct_budget: share of the harmonized spans of the LLM run re-asked (riskiest first).
        out_dir: also write each run's files as a spans project run writes them (:func:`write_outputs`):
            ``out_dir/<run>/spans.jsonl`` (the harmonized spans with probability and risk) and
            ``out_dir/<run>/metrics.json`` (the run's result); listed under ``"outputs"`` (name -> path).
    """
    from ..data.pubtator import check_file_types

    types = list(mention_types)
    check_file_types(types, [data], "mention_types")       # a typo: refused before features or sources
    t0 = time.perf_counter()
    docs = read_pubtator(data, types=types)
    docs = docs[:limit] if limit else docs
    X = _features(docs, features, state_dir)
    t_feat = time.perf_counter() - t0
    base = {"data": {"path": str(data), "mention_types": types}, "state_dir": str(state_dir),
            "harmonizer": {"features": features}}
    cfg = SpansConfig.model_validate({**base, "sources": rule_sources(ontology)})
    where = (lambda run: Path(out_dir) / run / "spans.jsonl") if out_dir is not None else (lambda run: None)
    rules, written = _one_run(docs, X, cfg, output=where("rules"))
    outputs = {f"{name} (rules)": path for name, path in written.items()}
    result = {"dataset": Path(data).name, "mention_types": types, "n_docs": len(docs),
              "n_gold": sum(len(d.spans) for d in docs), "features": features, "rules": rules}
    if llm_docs:
        sub = docs[:llm_docs]
        n_tok = sum(len(tokenize(d.text)) for d in sub)
        cfg_llm = SpansConfig.model_validate({**base, "sources": rule_sources(ontology) + [
            {"type": "llm", "name": "llm", "max_tokens": max_tokens, "n_threads": n_threads}]})
        result["with_llm"], written = _one_run(sub, X[:n_tok], cfg_llm, correct_budget, output=where("with_llm"))
        outputs.update({f"{name} (with_llm)": path for name, path in written.items()})
    result["seconds"] = {"features": t_feat, "total": time.perf_counter() - t0}
    if out_dir is not None:
        result["outputs"] = {name: str(path) for name, path in outputs.items()}
    return result
