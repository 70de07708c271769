"""The span job: documents → sources → token votes → label models / harmonizer → spans with a
probability and a POLAR risk each → (correction) → outputs and, when gold exists, metrics."""
from __future__ import annotations

import importlib
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import ConfigError, DataError
from ..io.outputs import check_writable
from ..llm.backends import LLM_BACKENDS, build_llm_backend, probe_backend
from ..llm.errors import LLMConfigError
from ..llm.offline import offline_or_raise, require_keys_cached
from .aggregate import HARMONIZER_LEVELS, SPAN_MODELS, spans_with_probability
from .config import SourceSpec, SpansConfig
from .evaluate import span_errors, span_scores
from .features import token_features
from .io import mark_annotated, read_conll, read_jsonl, read_pubtator, write_conll, write_jsonl, write_pubtator
from .sources import DictionarySpanSource, LLMSpanSource, RegexSpanSource
from .sources.dictionary import ontology_names
from .sources import disease as builtin
from .sources.disease import HEADS
from .types import Span, SpanDoc
from .votes import SpanVotes, apply_span_sources

log = logging.getLogger(__name__)
BUILTIN_FUNCTIONS = {f.name: f for f in (builtin.disease_heads, builtin.disease_suffixes, builtin.disease_acronyms)}
READERS = {"pubtator": read_pubtator, "conll": read_conll, "jsonl": read_jsonl}
#: the spans file's extension -> its format (:func:`write_spans`)
SPAN_FILE_FORMATS = {".jsonl": "jsonl", ".conll": "conll", ".txt": "pubtator"}


def check_spans_file(path: str | Path, file: str | None, key: str) -> None:
    """The spans file's name ends in an extension :func:`write_spans` writes (ConfigError naming ``key`` before
    any slow work; a ``spans.csv`` used to get PubTator text under a name that pandas reads as CSV)."""
    suffix = Path(path).suffix.lower()
    if suffix not in SPAN_FILE_FORMATS:
        raise ConfigError(f"cannot write spans to a {suffix or 'extension-less'} file ({Path(path).name})",
                          file=file, column=key,
                          fix=f"name the spans file with one of {sorted(SPAN_FILE_FORMATS)} (JSON lines, CoNLL, "
                              "PubTator)")


def check_gold_labels(docs: Sequence[SpanDoc], types: Sequence[str], path: str | Path | None) -> None:
    """Gold spans whose label is not one of ``[task] types`` can never be proposed, so they score as misses: every
    gold label outside the types (a typo, ``"Diseas"``) is a DataError, as every score would be 0 without a word;
    some outside them (a PubTator file with other types, ``label`` unset) a warning with their count."""
    import warnings
    from collections import Counter

    labels = Counter(s.label for d in docs for s in d.spans)
    other = {k: n for k, n in labels.items() if k not in types}
    if not other:
        return
    where = str(path) if path is not None else None
    if len(other) == len(labels):
        raise DataError(f"no gold span has a label among [task] types {list(types)}: the gold labels are "
                        f"{sorted(other)}", file=where,
                        fix="correct the gold labels, or name them in [task] types (PubTator: [data] label)")
    warnings.warn(f"{sum(other.values())} gold span(s) of {len(other)} label(s) not in [task] types "
                  f"({', '.join(f'{k!r}: {n}' for k, n in sorted(other.items()))}) in {where or 'the documents'}: "
                  "no source can propose them, so they count as misses", stacklevel=2)


def check_unique_ids(docs: Sequence[SpanDoc], path: str | Path | None) -> None:
    """No document id names two different texts (DataError naming the id and both documents' positions):
    the outputs and the LLM's document limit find a document's spans by its id, so the second text got the
    first one's offsets. The same document repeated (same id and text, as NCBI-disease's train file has one)
    is harmless and kept."""
    seen: dict[str, int] = {}
    for i, d in enumerate(docs):
        j = seen.setdefault(d.id, i)
        if j != i and docs[j].text != d.text:
            raise DataError(f"document id {d.id!r} names two different texts (documents {j} and {i}, 0-based)",
                            file=str(path) if path is not None else None,
                            fix="give each document its own id")


def load_docs(cfg: SpansConfig) -> list[SpanDoc]:
    """The ``[data]`` documents (DataError: a file with none, rather than a fit on no rows later)."""
    d = cfg.data
    docs = (read_pubtator(d.path, d.label, d.annotated, d.mention_types) if d.format == "pubtator"
            else READERS[d.format](d.path))
    if not docs:
        raise DataError(f"no documents in this {d.format} file", file=str(d.path),
                        fix="give a file with at least one document (or check [data] format)")
    if d.annotated_ids is not None:
        mark_annotated(docs, d.annotated_ids)
    docs = docs[:d.limit] if d.limit else docs
    check_unique_ids(docs, d.path)
    return docs


def check_labels(cfg: SpansConfig) -> None:
    """Every dictionary, regex and LLM source's ``label`` is one of ``[task] types``: a source whose spans no type
    keeps would vote for nothing (a typo in ``types`` gave empty output without a word)."""
    for i, spec in enumerate(cfg.sources):
        if spec.type != "function" and spec.label not in cfg.types:
            raise ConfigError(f"source {spec.name!r} labels its spans {spec.label!r}, which is not one of [task] "
                              f"types {list(cfg.types)}", column=f"sources[{i}].label",
                              fix=f"add {spec.label!r} to [task] types, or set the source's label to one of them")


class _Limited:
    """A source asked about the first ``n`` documents only (others: no spans)."""

    def __init__(self, src, docs: Sequence[SpanDoc]) -> None:
        self.src, self.name, self._ids = src, src.name, {d.id for d in docs}

    def find(self, doc: SpanDoc) -> list[Span]:
        return self.src.find(doc) if doc.id in self._ids else []


def build_source(spec: SourceSpec, state_dir: Path, docs: Sequence[SpanDoc] = (), where: str | None = None):
    """One span source from its config table (registry of kinds instead of if/else per call site); its config
    errors name their key under ``where`` (the project file's ``sources[i]``; None: ``sources``, or
    ``sources.<name>`` for an LLM source's backend keys)."""
    return _BUILDERS[spec.type](spec, state_dir, docs, where)


def _dictionary(spec: SourceSpec, state_dir: Path, docs, where: str | None = None):
    if spec.ontology is None and spec.terms is None:
        raise ConfigError(f"dictionary source {spec.name!r} needs ontology or terms", column=where or "sources",
                          fix='set ontology = "<ontology file or folder: OBO, TSV>" or terms = "<file, one name per line>"')
    names: list[str] = []
    if spec.ontology is not None:
        names += ontology_names(spec.ontology, exclude=HEADS)
    if spec.terms is not None:
        if not Path(spec.terms).is_file():
            raise ConfigError("terms file not found", file=str(spec.terms), fix="check the path")
        names += [l.strip() for l in Path(spec.terms).read_text(encoding="utf-8").splitlines() if l.strip()]
    return DictionarySpanSource(spec.name, names, spec.label, ignore_case=spec.ignore_case, plurals=spec.plurals)


def _regex(spec: SourceSpec, state_dir: Path, docs, where: str | None = None):
    key = f"{where or 'sources'}.pattern"
    if not spec.pattern:
        raise ConfigError(f"regex source {spec.name!r} needs a pattern", column=key,
                          fix='set pattern = "..." (a Python regular expression)')
    try:
        return RegexSpanSource(spec.name, spec.pattern, spec.label)
    except ConfigError as e:          # its column is "pattern": the key in the project file is the source's
        raise type(e)(e.message, file=e.file, column=key, fix=e.fix) from None


def _function(spec: SourceSpec, state_dir: Path, docs, where: str | None = None):
    key = f"{where or 'sources'}.function"
    ref = spec.function or spec.name
    if ref in BUILTIN_FUNCTIONS:
        fn = BUILTIN_FUNCTIONS[ref]
    elif ":" in ref:
        mod, attr = ref.split(":", 1)
        try:
            fn = getattr(importlib.import_module(mod), attr)
        except (ImportError, AttributeError) as e:
            raise ConfigError(f"cannot import span function {ref!r}: {e}", column=key,
                              fix="give 'module:attribute' of a @span_function") from None
    else:
        raise ConfigError(f"unknown span function {ref!r}", column=key,
                          fix=f"use one of {sorted(BUILTIN_FUNCTIONS)} or 'module:attribute'")
    if not hasattr(fn, "find"):
        raise ConfigError(f"{ref!r} is not a span source", column=key,
                          fix="decorate it with @span_function()")
    fn.name = spec.name
    return fn


def _local_keys(spec: SourceSpec) -> dict:
    """The span source's own keys for the embedded model (other backends take theirs from backend_options)."""
    if spec.backend != "local":
        bt = LLM_BACKENDS.get(spec.backend)
        return {"max_tokens": spec.max_tokens} if bt and "max_tokens" in bt.settings.model_fields else {}
    return {"gguf": str(spec.gguf) if spec.gguf else None, "max_tokens": spec.max_tokens, "n_ctx": 1024,
            "n_threads": spec.n_threads}


def _llm(spec: SourceSpec, state_dir: Path, docs, where: str | None = None):
    """The LLM span source, its backend checked before any slow work: a bad key or model file, and a server
    (``backend = "openai"``) that does not answer, refuses the key or does not list the model, is one
    ConfigError naming the key (``sources[i].backend_options.base_url``), as the label task's LLM sources and
    the LLM linker do. The server is asked even on a re-run; when it fails but the answer cache already holds
    answers of this model, the run goes on from the cache (a warning) and the error stops it at the first
    sentence whose answer is not cached (:func:`polarlab.llm.offline.offline_or_raise`)."""
    own = f"sources.{spec.name}"          # the backend registry's messages name the table so
    where = where or own
    try:
        be = build_llm_backend(spec.backend, {**_local_keys(spec), **spec.backend_options}, where=own)
    except ConfigError as e:          # the key path in the project file: a key the user wrote in backend_options there
        col = e.column or ""
        if not (col == own or col.startswith(own + ".")):
            raise
        key = col.rsplit(".", 1)[-1]
        col = f"{where}.backend_options.{key}" if key in spec.backend_options else where + col[len(own):]
        raise type(e)(e.message, file=e.file, row=e.row, column=col, fix=e.fix, line=e.line) from None
    cache = Path(state_dir) / "llm_cache.sqlite"
    try:
        probe_backend(be, where=f"{where}.backend_options")
    except LLMConfigError as e:
        be = offline_or_raise(be, e, cache, step=f"the LLM span source {spec.name!r} ({where})",
                              drop=f"remove its [[sources]] table ({where}) "
                                   "(and set [correct] budget = 0, which needs it)")
    src = LLMSpanSource(be, label=spec.label, cache=cache, name=spec.name)
    asked = docs[:spec.limit_docs] if spec.limit_docs else docs
    # every sentence it will ask about is known before any source runs: an offline re-run is checked here
    require_keys_cached(be, lambda: src.cache_keys(asked), src.cached, f"over {len(asked)} document(s)")
    return _Limited(src, asked) if spec.limit_docs else src


_BUILDERS = {"dictionary": _dictionary, "regex": _regex, "function": _function, "llm": _llm}


@dataclass
class MethodResult:
    """One method's output: spans per document and P(span exactly right) aligned with them."""

    spans: list[list[Span]]
    probs: list[np.ndarray] | None = None

    @property
    def risk(self) -> np.ndarray:
        return 1.0 - np.concatenate(self.probs) if self.probs else np.zeros(0)

    def subset(self, rows: Sequence[int]) -> "MethodResult":
        """The same method's output on the documents ``rows`` (indices, in that order)."""
        return MethodResult([self.spans[i] for i in rows],
                            None if self.probs is None else [self.probs[i] for i in rows])


@dataclass
class SpansResult:
    docs: list[SpanDoc]
    votes: SpanVotes
    methods: dict[str, MethodResult]
    harmonizer: object
    metrics: dict = field(default_factory=dict)
    seconds: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    llm: dict = field(default_factory=dict)


def aggregate_all(votes: SpanVotes, X: np.ndarray, cfg: SpansConfig) -> tuple[dict[str, MethodResult], object]:
    """Each source alone, majority vote, Dawid–Skene and the harmonizer on the same votes."""
    methods = {name: MethodResult([p[j] for p in votes.proposals]) for j, name in enumerate(votes.sources)}
    for name in ("majority", "majority_plain", "dawid_skene"):
        m = SPAN_MODELS[name]().fit(votes)
        methods[name] = MethodResult(*spans_with_probability(m.predict_proba(votes), votes, m.decode, name))
    h = fit_harmonizer(votes, X, cfg.harmonizer.level, cfg)
    methods["harmonized"] = MethodResult(*h.predict_spans(votes, X))
    # for comparison only: the same spans scored by h alone
    h.h_alone_probs_ = h.prior_probabilities(votes, X, methods["harmonized"].spans)
    return methods, h


def fit_harmonizer(votes: SpanVotes, X: np.ndarray, level: str, cfg: SpansConfig):
    """The span harmonizer of ``level`` (``"span"`` or ``"token"``, :data:`HARMONIZER_LEVELS`) fitted
    with the ``[harmonizer]`` settings of ``cfg``."""
    hc = cfg.harmonizer
    return SPAN_MODELS[HARMONIZER_LEVELS[level]](model=hc.model, scalarization=hc.scalarization, folds=hc.folds,
                                                fallback=hc.fallback, seed=hc.seed).fit(votes, X)


def harmonizer_info(h, level: str) -> dict:
    """What the fitted span harmonizer ``h`` chose: its ``level`` (the one it chose, for ``"auto"``), whether it fell
    back to majority vote, tau, the temperature, the held-out check and its held-out agreement (None when it has
    none)."""
    return {"level": getattr(h, "level_", level), "fallback_to_majority": h.fallback_, "tau": h.tau_,
            "temperature": h.check_.temperature, "heldout_check": h.check_.to_dict(),
            "agreement": getattr(h, "agreement_", None)}


def evaluate_methods(docs: Sequence[SpanDoc], methods: dict[str, MethodResult]) -> dict:
    """Exact/partial P/R/F1 per method; risk calibration for methods with probabilities."""
    from ..risk.calibration import calibration_report

    gold = [d.spans for d in docs]
    out = {"labels": {}, "risk": {}}
    for name, m in methods.items():
        out["labels"][name] = span_scores(m.spans, gold)
        if m.probs is not None and sum(len(p) for p in m.probs):
            err = span_errors(m.spans, gold)
            out["risk"][name] = calibration_report(m.risk, err).to_dict()
    return out


def score_run(docs: Sequence[SpanDoc], methods: dict[str, MethodResult], h, level: str) -> dict:
    """A run's metrics on the documents with gold (``has_gold``; all of them for PubTator and CoNLL): ``n_docs``
    (those scored), ``n_gold``, ``n_docs_without_gold`` (left out, when there are any), the harmonizer's choices
    (:func:`harmonizer_info`) and :func:`evaluate_methods`; ``{}`` when no document has a gold span."""
    rows = [i for i, d in enumerate(docs) if d.has_gold]
    scored = [docs[i] for i in rows]
    if not any(d.spans for d in scored):
        return {}
    out = {"n_docs": len(scored), "n_gold": sum(len(d.spans) for d in scored)}
    if len(scored) < len(docs):
        out["n_docs_without_gold"] = len(docs) - len(scored)
    subset = methods if len(scored) == len(docs) else {k: m.subset(rows) for k, m in methods.items()}
    return {**out, "harmonizer": harmonizer_info(h, level), **evaluate_methods(scored, subset)}


def write_spans(path: Path, docs: Sequence[SpanDoc], res: MethodResult, types: Sequence[str]) -> None:
    """Harmonized spans with probability and risk: .jsonl (spaCy style), .conll, or PubTator."""
    by_doc = {d.id: i for i, d in enumerate(docs)}
    prob = {(i, s.key): float(p) for i, (S, P) in enumerate(zip(res.spans, res.probs or [])) for s, p in zip(S, P)}
    of = lambda d: res.spans[by_doc[d.id]]  # noqa: E731
    check_spans_file(path, None, "output")
    fmt = SPAN_FILE_FORMATS[Path(path).suffix.lower()]
    if fmt == "jsonl":
        write_jsonl(docs, path, of, extra=lambda d, s: {"probability": prob.get((by_doc[d.id], s.key)),
                                                         "risk": 1 - prob.get((by_doc[d.id], s.key), 0.0)})
    elif fmt == "conll":
        write_conll(docs, path, types, of)
    else:
        write_pubtator(docs, path, of)


def final_spans(methods: dict[str, MethodResult]) -> MethodResult:
    """The spans a run hands on (its spans file): the harmonized spans after the LLM's re-asks when a correction ran
    (``harmonized_corrected``: the spans the LLM rejected dropped), else the harmonized spans."""
    return methods.get("harmonized_corrected", methods["harmonized"])


def write_outputs(path: str | Path, docs: Sequence[SpanDoc], methods: dict[str, MethodResult],
                  types: Sequence[str], metrics: dict | None = None) -> dict[str, Path]:
    """Write a span run's files and return them by name: ``spans`` (the run's spans among ``methods``,
    :func:`final_spans`, with probability and risk, :func:`write_spans`, at ``path``) and, when ``metrics`` (the
    documents had gold spans), ``metrics`` (``metrics.json`` beside it). A project run and ``polarlab bench spans
    --out DIR`` write their outputs through this one function."""
    from ..io.atomic import write_text
    from ..io.jsonout import dumps

    write_spans(Path(path), docs, final_spans(methods), types)
    outputs = {"spans": Path(path)}
    if metrics:
        m = Path(path).with_name("metrics.json")
        write_text(m, dumps(metrics, indent=2, default=str))
        outputs["metrics"] = m
    return outputs


def run_spans(cfg: SpansConfig | dict, *, docs: Sequence[SpanDoc] | None = None, features: np.ndarray | None = None
              ) -> SpansResult:
    """Run a span task end to end (no gold is used for fitting; gold, when present, only scores)."""
    cfg = cfg if isinstance(cfg, SpansConfig) else SpansConfig.model_validate(cfg)
    t = {}
    t0 = time.perf_counter()
    check_labels(cfg)
    if cfg.output is not None:
        check_spans_file(cfg.output, None, "output")
        check_writable(Path(cfg.output).parent, None, "output")
    path = None if docs is not None else cfg.data.path
    if docs is not None:
        docs = list(docs)
        check_unique_ids(docs, None)
    else:
        docs = load_docs(cfg)
    check_gold_labels(docs, cfg.types, path)
    sources = [build_source(s, cfg.state_dir, docs, f"sources[{i}]")     # config errors before slow work
               for i, s in enumerate(cfg.sources)]
    t["load"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    votes = apply_span_sources(docs, sources, cfg.types)
    t["sources"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    X = features if features is not None else token_features(docs, votes.offsets, cfg.harmonizer.features)
    t["features"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    methods, h = aggregate_all(votes, X, cfg)
    t["aggregate"] = time.perf_counter() - t0
    res = SpansResult(docs, votes, methods, h, seconds=t)
    from ..jobs.record import step_usage

    for built in sources:      # calls made vs cache hits of each LLM step (polarlab status and report read them)
        if isinstance(getattr(built, "src", built), LLMSpanSource):
            res.llm[f"span source {built.name}"] = step_usage(getattr(built, "src", built).stats)
    if cfg.correct.budget:
        from .correct import SpanVerifier, verify_spans
        llm = next((s for s in sources if isinstance(getattr(s, "src", s), LLMSpanSource)), None)
        if llm is None:
            raise ConfigError("correction needs an llm source", column="correct.budget",
                              fix='add a [[sources]] table with type = "llm", or set budget = 0')
        ver = SpanVerifier(getattr(llm, "src", llm).backend, cache=Path(cfg.state_dir) / "llm_cache.sqlite",
                           threshold=cfg.correct.threshold)
        hm = methods["harmonized"]
        fixed, audit = verify_spans(docs, hm.spans, hm.probs, ver, cfg.correct.budget)
        keep = [np.array([p for s, p in zip(S, P) if s.key in {f.key for f in F}])
                for S, P, F in zip(hm.spans, hm.probs, fixed)]
        methods["harmonized_corrected"] = MethodResult(fixed, keep)
        res.outputs["correction_audit"] = audit
        res.llm["span correction"] = step_usage(ver.stats)
    res.metrics = score_run(docs, methods, h, cfg.harmonizer.level)
    if res.metrics and res.llm:
        res.metrics["llm_usage"] = res.llm
    if cfg.output is not None:
        write_outputs(cfg.output, docs, methods, cfg.types)
        res.outputs["spans"] = str(cfg.output)
    return res


def load_spans_project(path: str | Path) -> SpansConfig:
    """A ``polarlab.toml`` with ``[task] kind = "spans"`` as a :class:`SpansConfig`.

    Tables: ``[task]`` (``kind``, ``types``), ``[data]`` (:class:`DataSpec`), ``[[sources]]``
    (:class:`SourceSpec`), ``[harmonizer]``, ``[correct]``, ``[project] state_dir``, ``[output]`` (``dir``,
    ``spans`` = file name, .jsonl | .txt | .conll). Relative paths are read from the project file's folder.

    Raises:
        ConfigError: unreadable TOML, an unknown table or key, a wrong type (named with its key path).
    """
    import sys

    from pydantic import ValidationError

    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"cannot read the project file: {e}", file=str(path), fix="give a UTF-8 TOML file") from None
    from .config import SPANS_TABLES

    tables = tuple(t.strip("[]") for t in SPANS_TABLES) + ("project",)
    unknown = sorted(set(raw) - set(tables))
    if unknown:
        from ..config.base import suggest

        guess = suggest(unknown[0], tables)
        raise ConfigError(f"unknown table(s) {unknown}", file=str(path), column=unknown[0],
                          fix=(f"did you mean [{guess}]? " if guess else "") + "a spans project has "
                          + ", ".join(f"[{t}]" for t in SPANS_TABLES) + " and [project]")
    base = path.parent
    from ..config.base import validate
    from ..config.models import check_project_section, check_task_section
    from .config import OutputSpec, TaskSpec

    types = check_task_section(raw, str(path), TaskSpec).types
    check_project_section(raw, str(path))
    out_table = validate(OutputSpec, raw.get("output", {}), file=str(path), prefix="output", table="[output]")
    res = lambda p: Path(p) if Path(p).is_absolute() else base / p  # noqa: E731   (Path: the strict check's type)
    data = dict(raw.get("data", {}))
    for k in ("path", "annotated_ids"):
        if isinstance(data.get(k), str):
            data[k] = res(data[k])
    sources = [dict(s) for s in raw.get("sources", [])]
    for s in sources:
        for k in ("ontology", "terms", "gguf"):
            if isinstance(s.get(k), str):
                s[k] = res(s[k])
    output = None
    if out_table.model_fields_set:      # else run_project writes out/spans.jsonl beside the file (or --out DIR)
        output = res(Path(out_table.dir) / out_table.spans)
    if output is not None:
        check_spans_file(output, str(path), "output.spans")
    table = {"data": data, "types": types, "sources": sources, "harmonizer": raw.get("harmonizer", {}),
             "correct": raw.get("correct", {}), "state_dir": res(raw.get("project", {}).get("state_dir", ".polarlab")),
             "output": output}
    try:
        return SpansConfig.model_validate(table, strict=True)       # a file's types: "3" is not an integer
    except ValidationError as e:     # one line naming the key path, with a did-you-mean for a typo
        from ..config.base import config_error

        raise config_error(e, SpansConfig, file=str(path)) from None


def preflight(cfg: SpansConfig, project_file: str | Path | None = None) -> None:
    """The checks of a spans project that read no model, before its run starts (and is recorded): every source's
    label is one of ``[task] types`` (:func:`check_labels`), and each of ``[data] mention_types`` is a mention type
    of the PubTator file (a scan of its mention lines, :func:`polarlab.data.pubtator.check_file_types`).

    Raises:
        ConfigError: naming the project file, the key and the fix (for a type: the file's types).
    """
    from ..data.pubtator import check_file_types

    check_labels(cfg)
    if cfg.data.format == "pubtator":
        check_file_types(cfg.data.mention_types, [cfg.data.path], "data.mention_types", project_file)


def run_project(path: str | Path, output_dir: str | Path | None = None, progress: bool = True) -> dict[str, Path]:
    """``polarlab run`` of a ``[task] kind = "spans"`` project: harmonized spans with probability and risk
    (``[output] spans``) and ``metrics.json`` beside them when the documents carry gold spans."""
    from ..jobs.record import recorded_run
    from .job import job_paths

    cfg = load_spans_project(path)
    if output_dir is not None:
        cfg.output = Path(output_dir) / (cfg.output.name if cfg.output else "spans.jsonl")
    if cfg.output is None:
        cfg.output = Path(path).parent / "out" / "spans.jsonl"
    output, cfg.output = Path(cfg.output), None
    check_writable(output.parent, str(path), "output.dir")
    preflight(cfg, path)
    where = job_paths(cfg, output)
    with recorded_run(Path(path), "spans", where.state_dir, where.inputs) as notes:   # polarlab status reads it
        res = run_spans(cfg)
        notes.outputs = write_outputs(output, res.docs, res.methods, cfg.types, res.metrics)
        final = final_spans(res.methods).spans
        notes.counts = {"documents": len(res.docs), "spans": sum(len(s) for s in final),
                        "documents_with_spans": sum(1 for s in final if s)}
        notes.llm = res.llm
    return notes.outputs
