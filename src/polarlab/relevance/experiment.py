"""One relevance run: first-stage baselines, LLM-labelled and POLAR-harmonized retrievers, ARL2
self-training, the supervised bound and the LLM as reranker, all evaluated on the test split.

:func:`run_relevance` is the entry a project runner calls for ``[task] kind = "relevance"``.
Gold (the train qrels) is read only by the ``supervised`` method and to *measure* the risk of
the LLM judgements; no choice of the other methods depends on it. Without qrels the run still labels
and trains; what needs them is skipped and listed under ``"skipped"`` (:mod:`.gold`).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..errors import DataError
from ..llm.config import from_config as llm_from_config
from ..llm.source import LLMSource
from ..risk.baselines import llm_probability_risk
from ..risk.calibration import auroc, calibration_report
from .beir import BeirData, load_beir
from .candidates import BM25Retriever, DenseRetriever, rrf_fuse
from .config import LLM_METHODS, RelevanceConfig
from .gold import GoldSplits, qrels_to_load
from .harmonize import harmonize
from .judge import RelevanceJudge
from .labels import gold_of_pairs, triplets_from_qrels, triplets_from_scores
from .metrics import evaluate, ndcg_per_query, paired_bootstrap
from .pool import build_pool, pair_features
from .ranking import Ranking
from .selftrain import AdaptiveSelfTraining
from .sources import cheap_votes
from .trainer import BiEncoderTrainer

Log = Callable[[str], None]


def llm_source(config: RelevanceConfig, state_dir: Path) -> LLMSource:
    """The LLM source of ``config.llm`` ("local" or a base URL), caching in ``state_dir``."""
    table = {"type": "llm", "name": "relevance_llm", "progress": False, "cache": "llm_cache.sqlite"}
    if config.llm == "local":
        table.update(backend="local", n_threads=config.llm_threads)
    else:
        table.update(backend="openai", base_url=config.llm, model=config.llm_model or "default")
    return llm_from_config(table, state_dir)


def check_llm(source: LLMSource) -> None:
    """Ask the LLM's server once, in seconds, before any retrieval or training (the embedded model passes: its
    GGUF file was checked when the source was built). Which pairs are judged is known only after retrieval, so
    the server is asked even on a re-run; when it fails but ``source``'s answer cache already holds answers of
    this model, the run goes on from the cache (a warning; ``source.backend`` becomes an
    :class:`~polarlab.llm.offline.OfflineBackend`) and the error stops it at the first pair whose answer is not
    cached: a re-run whose answers are all cached needs no server.

    Raises:
        LLMConfigError (a ConfigError): nothing answers at ``[relevance] llm`` (``--llm``), the key is refused or
            the server does not list ``llm_model``, and the cache holds no answer of this model; the key is named
            as a relevance key.
    """
    from ..llm.backends import probe_backend
    from ..llm.errors import LLMConfigError
    from ..llm.offline import offline_or_raise

    try:
        probe_backend(source.backend, where="relevance")
    except LLMConfigError as e:
        key = {"relevance.base_url": "relevance.llm", "relevance.model": "relevance.llm_model"}.get(e.column, e.column)
        fix = {"relevance.llm": "start the server, or fix [relevance] llm (--llm), e.g. http://127.0.0.1:8000/v1",
               "relevance.llm_model": "set [relevance] llm_model (--llm-model) to one of the listed names"}.get(key, e.fix)
        source.backend = offline_or_raise(source.backend, type(e)(e.message, file=e.file, column=key, fix=fix),
                                          source.cache, step="the relevance LLM (judging or reranking pairs)",
                                          drop=f"leave {', '.join(LLM_METHODS)} out of [relevance] methods")


def auroc_noise(labels: np.ndarray) -> float:
    """Two standard errors of the AUROC of an uninformative score on these labels (shape (n,), 0/1):
    sqrt((n1 + n0 + 1) / (12 n1 n0)) (Mann–Whitney under the null); an AUROC within 0.5 ± this is noise."""
    n1 = int(np.sum(labels == 1))
    n0 = int(np.sum(labels == 0))
    return float(2.0 * np.sqrt((n1 + n0 + 1) / (12.0 * n1 * n0))) if n1 and n0 else float("nan")


class _Run:
    """Shared state of one run (data, candidates, pool) and the per-method steps."""

    def __init__(self, config: RelevanceConfig, state_dir: Path, source: LLMSource | None, log: Log) -> None:
        self.c, self.state, self.log = config, state_dir, log
        self.data: BeirData = load_beir(config.data, **qrels_to_load(config))
        self.splits = GoldSplits.of(config, self.data)
        self.train_q = self.splits.train_queries(self.data, config.train_queries)
        self.test_q = self.data.split_queries(config.test_split) if self.splits.test else []
        self.test_qrels = self.data.qrels[config.test_split] if self.splits.test else None   # None: no test metrics
        self._source = source
        self._judge: RelevanceJudge | None = None
        self.enc_kw = dict(max_seq_length=config.max_seq_length, cache_dir=state_dir / "emb")
        self.per_query: dict[str, dict[str, float]] = {}   # run name -> test query -> nDCG@10
        self.labels: dict[str, pd.DataFrame] = {}           # method -> its harmonized labels of the pool pairs

    @property
    def judge(self) -> RelevanceJudge:
        if self._judge is None:
            self._judge = RelevanceJudge(self._source or llm_source(self.c, self.state), doc_chars=self.c.doc_chars)
        return self._judge

    def trainer(self) -> BiEncoderTrainer:
        c = self.c
        return BiEncoderTrainer(max_seq_length=c.max_seq_length, batch_size=c.batch_size, epochs=c.epochs,
                                lr=c.lr, seed=c.seed, num_threads=c.threads)

    # -- first stage ------------------------------------------------------------------
    def first_stage(self, bm25_only: bool = False) -> dict[str, dict]:
        """BM25, dense and fused rankings of the train and test queries; test metrics of each.
        ``bm25_only``: skip the encoder (a run of the bm25 method alone)."""
        c = self.c
        splits = tuple((s, q) for s, q in (("train", self.train_q), ("test", self.test_q)) if q)
        t = time.perf_counter()
        self.bm25 = BM25Retriever().fit(self.data)
        rb = {s: self.bm25.retrieve(self.data, q, c.candidates_depth) for s, q in splits}
        tb = time.perf_counter() - t
        self.rankings = {"bm25": rb}
        test = self.test_qrels is not None        # else no test metrics: the rankings of the training queries only
        out = {"bm25": self._result(rb["test"], 0, tb, name="bm25")} if test else {}
        if bm25_only:
            return out
        t = time.perf_counter()
        self.dense = DenseRetriever(**self.enc_kw)
        rd = {s: self.dense.retrieve(self.data, q, c.candidates_depth) for s, q in splits}
        td = time.perf_counter() - t
        t = time.perf_counter()
        rf = {s: rrf_fuse([rb[s], rd[s]], c.candidates_depth) for s in rb}
        tf = time.perf_counter() - t + tb + td
        self.rankings.update(dense=rd, fusion=rf)
        if test:
            out["dense"] = self._result(rd["test"], 0, td, name="dense")
            out["fusion"] = self._result(rf["test"], 0, tf, name="fusion")
        return out

    def _result(self, ranking: Ranking, calls: int, seconds: float, qrels=None, name: str | None = None,
                **extra) -> dict:
        run = ranking.to_run(self.data)
        m = evaluate(run, qrels or self.test_qrels)
        if name:
            self.per_query[name] = ndcg_per_query(run, qrels or self.test_qrels)
        return {**m, "llm_calls": int(calls), "seconds": round(seconds, 1), **extra}

    # -- pool and sources -------------------------------------------------------------
    def pool(self) -> None:
        t = time.perf_counter()
        Q = self.dense.encode_queries(self.data, self.train_q)
        D = self.dense.encode_corpus(self.data)
        self.P = build_pool(self.data, self.rankings["bm25"]["train"], self.rankings["dense"]["train"],
                            self.rankings["fusion"]["train"], self.c.pool_depth, Q, D, stem=self.bm25.stem_)
        self.X = pair_features(self.P, dict(zip(self.train_q, Q)), D)
        self.cheap = cheap_votes(self.P)
        self.gold = (gold_of_pairs(self.P, self.data.qrels[self.splits.train], self.data.doc_ids)
                     if self.splits.train else None)              # None: no train qrels, no risk calibration
        n = len(self.P)
        self.static = np.lexsort((np.arange(n), self.P.rank_fused))[:self.c.budget]   # rank 1 of every query first
        self.pool_seconds = time.perf_counter() - t
        self.log(f"pool: {n} pairs of {len(self.train_q)} training queries; "
                 + (f"{int(self.gold.sum())} of them in the train qrels (measuring only)" if self.gold is not None
                    else "no train qrels"))

    def llm_static(self) -> float:
        """LLM judgements of the first ``budget`` pool pairs in fused-rank order (shared by two methods).

        Returns the seconds to charge to the calling method beyond its own run time: the LLM's time
        when the judgements were made by an earlier method, else 0."""
        if hasattr(self, "llm_vote"):
            return self.llm_seconds
        t = time.perf_counter()
        res = self.judge.judge(self.data, [(self.P.qids[i], int(self.P.doc_idx[i])) for i in self.static])
        self.llm_vote = np.full(len(self.P), -1, dtype=np.int64)
        self.llm_vote[self.static] = res.votes
        self.llm_p = np.full(len(self.P), np.nan)
        self.llm_p[self.static] = res.p_relevant
        self.llm_seconds = time.perf_counter() - t
        self.log(f"LLM: {len(self.static)} judgements ({res.backend_calls} backend calls, "
                 f"{self.llm_seconds:.0f} s)")
        return 0.0

    def _train_eval(self, name: str, triplets, t0: float, calls: int, **extra) -> dict:
        model_dir = self.state / "models" / name
        tr = self.trainer().fit(self.data, triplets, model_dir)
        return self._eval_model(name, model_dir, t0, calls, triplets=len(triplets), train_seconds=round(tr.train_seconds_, 1),
                                reused_model=tr.reused_, **extra)

    def _eval_model(self, name: str, model_dir: Path, t0: float, calls: int, **extra) -> dict:
        """Test metrics of a trained bi-encoder, alone and fused (RRF) with BM25 as ``with_bm25`` (the same
        hybrid as ``fusion``, with the trained model in place of the off-the-shelf one); per-query nDCG@10
        kept as ``name`` and ``name+bm25`` for the paired comparisons. Without test qrels: the model, its LLM calls
        and seconds only."""
        if self.test_qrels is None:
            return {"llm_calls": int(calls), "seconds": round(time.perf_counter() - t0, 1), "model": str(model_dir),
                    **extra}
        r = DenseRetriever(model_dir, **self.enc_kw).retrieve(self.data, self.test_q, self.c.candidates_depth)
        hybrid = rrf_fuse([self.rankings["bm25"]["test"], r], self.c.candidates_depth).to_run(self.data)
        self.per_query[f"{name}+bm25"] = ndcg_per_query(hybrid, self.test_qrels)
        return self._result(r, calls, time.perf_counter() - t0, name=name, model=str(model_dir),
                            with_bm25=evaluate(hybrid, self.test_qrels), **extra)

    # -- methods ----------------------------------------------------------------------
    def llm_labels(self) -> dict:
        t0 = time.perf_counter()
        t0 -= self.llm_static()
        p = np.where(self.llm_vote >= 0, self.llm_vote.astype(float), np.nan)
        return self._train_eval("llm_labels", triplets_from_scores(self.P, p, max_pos=self.c.max_positives,
                                                       n_neg=self.c.hard_negatives), t0,
                                len(self.static))

    def polar(self) -> tuple[dict, dict]:
        t0 = time.perf_counter()
        t0 -= self.llm_static()
        h = harmonize(self.X, {**self.cheap, "llm": self.llm_vote}, seed=self.c.seed)
        risk = self.risk_report(h.llm_risk, self.llm_vote, self.llm_p)
        self.labels["polar"] = self.pair_labels(h, self.llm_vote, self.llm_p)
        res = self._train_eval("polar", triplets_from_scores(self.P, h.p_relevant, max_pos=self.c.max_positives,
                                                    n_neg=self.c.hard_negatives), t0,
                               len(self.static), llm_weight=h.llm_weight)
        return res, risk

    def pair_labels(self, h, llm_vote: np.ndarray, llm_p: np.ndarray) -> pd.DataFrame:
        """The relevance labels of the pool pairs: one row per (training query, document) pair with P(relevant)
        (POLAR, no gold), the LLM's vote (-1 = not asked), its P(yes) and the POLAR risk of its answer (empty
        where it was not asked), and the pair's fused rank."""
        asked = llm_vote >= 0
        return pd.DataFrame({
            "query_id": self.P.qids, "doc_id": [self.data.doc_ids[int(i)] for i in self.P.doc_idx],
            "p_relevant": h.p_relevant, "llm_vote": llm_vote, "llm_p_yes": np.where(asked, llm_p, np.nan),
            "llm_risk": np.where(asked, h.llm_risk, np.nan), "rank_fused": self.P.rank_fused})

    def risk_report(self, llm_risk: np.ndarray, llm_vote: np.ndarray, llm_p: np.ndarray) -> dict:
        """Calibration of the POLAR risk of the LLM judgements against the train qrels (measuring only), next to
        the LLM's own risk (1 - its calibrated probability of its answer) and the AUROC of its P(yes) for
        telling relevant pairs from the others.

        Without train qrels: the number of judgements, the LLM's yes rate and the two mean risks (no gold).

        Parameters:
            llm_risk, llm_vote, llm_p: shape (n,) over the pool; vote -1 / NaN where the LLM was not asked.
        """
        asked = llm_vote >= 0
        if self.gold is None:
            p = llm_p[asked]
            own_risk = llm_probability_risk(np.column_stack([1 - p, p]), llm_vote[asked])
            mean = (lambda x: float(np.mean(x)) if x.size else float("nan"))  # noqa: E731
            return {"n": int(asked.sum()), "llm_yes_rate": mean((llm_vote[asked] == 1).astype(float)),
                    "polar": {"mean_risk": mean(llm_risk[asked])}, "llm_confidence": {"mean_risk": mean(own_risk)}}
        err = (llm_vote[asked] != self.gold[asked]).astype(int)
        keys = ("ece", "auroc", "brier", "mean_risk", "ece_floor")
        polar = calibration_report(llm_risk[asked], err).to_dict()
        p = llm_p[asked]
        own = calibration_report(llm_probability_risk(np.column_stack([1 - p, p]), llm_vote[asked]), err).to_dict()
        gold = self.gold[asked]
        return {"n": int(asked.sum()), "llm_error_rate": float(err.mean()) if err.size else float("nan"),
                "llm_yes_rate": float((llm_vote[asked] == 1).mean()) if err.size else float("nan"),
                "relevant_rate": float(gold.mean()) if err.size else float("nan"),
                "llm_p_yes_auroc": auroc(p, gold) if err.size else float("nan"),
                "llm_p_yes_auroc_noise": auroc_noise(gold),
                "polar": {k: polar[k] for k in keys}, "llm_confidence": {k: own[k] for k in keys},
                "risk_auroc_noise": auroc_noise(err)}

    def self_training(self) -> tuple[dict, dict]:
        t0 = time.perf_counter()
        c = self.c
        st = AdaptiveSelfTraining(budget=c.budget, max_rounds=c.rounds, first_share=c.first_share,
                                  per_query=c.per_query, max_positives=c.max_positives,
                                  hard_negatives=c.hard_negatives)
        st.fit(self.data, self.P, self.X, self.cheap, self.judge, self.trainer(),
               self.state / "models" / "polar_self_training", encoder_kw=self.enc_kw, log=self.log)
        risk = self.risk_report(st.harmonized_.llm_risk, st.llm_vote_, st.llm_p_)
        self.labels["polar_self_training"] = self.pair_labels(st.harmonized_, st.llm_vote_, st.llm_p_)
        rounds = [r.__dict__ for r in st.history_]
        return self._eval_model("polar_self_training", st.model_path_, t0, st.llm_judged_, rounds=rounds), risk

    def supervised(self) -> dict:
        t0 = time.perf_counter()
        trips = triplets_from_qrels(self.P, {q: self.data.qrels[self.c.train_split][q] for q in self.train_q},
                                    self.data.doc_index, n_neg=self.c.hard_negatives)
        return self._train_eval("supervised", trips, t0, 0)

    def llm_rerank(self) -> dict:
        """The LLM reorders the fused top ``rerank_depth`` of each test query by P(yes)."""
        t0 = time.perf_counter()
        c = self.c
        fused = self.rankings["fusion"]["test"]
        qids = fused.qids[:c.rerank_queries]
        fused = fused.subset(qids)
        k = min(c.rerank_depth, fused.depth)
        pairs = [(q, int(fused.doc_idx[i, r])) for i, q in enumerate(qids) for r in range(k)]
        res = self.judge.judge(self.data, pairs)
        p = np.nan_to_num(res.p_relevant, nan=0.0).reshape(len(qids), k)
        order = np.argsort(-p, axis=1, kind="stable")
        idx = fused.doc_idx.copy()
        idx[:, :k] = np.take_along_axis(fused.doc_idx[:, :k], order, axis=1)
        scores = np.hstack([2.0 + np.take_along_axis(p, order, axis=1), fused.scores[:, k:]])
        qrels = {q: self.test_qrels[q] for q in qids}
        fusion_same = evaluate(fused.to_run(self.data), qrels)
        return self._result(Ranking(qids, idx, scores), len(pairs), time.perf_counter() - t0, qrels=qrels,
                            name="llm_rerank", test_queries=len(qids), fusion_on_same_queries=fusion_same,
                            backend_calls=res.backend_calls)


TRAINED = ("llm_labels", "polar", "polar_self_training", "supervised")
DELIVERED = "polar_self_training"        # the retriever polarlab delivers (the target of the comparison)
CALL_LIMIT = 3000                         # the target's LLM budget


def comparisons(per_query: dict[str, dict[str, float]], results: dict[str, dict], budget: int,
                n_boot: int = 10000) -> dict:
    """Paired bootstrap (95 %, over test queries) of the nDCG@10 differences that answer "does the trained
    retriever beat what it replaces?": every trained method alone vs off-the-shelf ``dense`` and vs ``fusion``,
    its BM25 hybrid (``m+bm25``) vs ``fusion`` (hybrid vs hybrid), and ``llm_rerank`` vs ``fusion`` on the
    queries it reranked. ``target`` states the verdict for :data:`DELIVERED` (interval above 0 = beats).

    Parameters:
        per_query: run name -> test query id -> nDCG@10 (``name`` and ``name+bm25`` for trained models).
        results: the method results (for their LLM calls).
        budget: the configured LLM budget (reported next to the calls actually made).
    """
    pairs = []
    for m in TRAINED:
        pairs += [(m, "dense"), (m, "fusion"), (f"{m}+bm25", "fusion")]
    pairs.append(("llm_rerank", "fusion"))
    out: dict = {}
    for a, b in pairs:
        if a in per_query and b in per_query:
            out[f"{a} vs {b}"] = {k: (round(v, 4) if isinstance(v, float) else v)
                                  for k, v in paired_bootstrap(per_query[a], per_query[b], n_boot).items()}
    if DELIVERED in results:
        calls = int(results[DELIVERED]["llm_calls"])
        verdict = {"retriever": DELIVERED, "llm_calls": calls, "budget": budget,
                   "within_call_limit": calls <= CALL_LIMIT}
        for key, (a, b) in {"dense_beats_minilm": (DELIVERED, "dense"),
                            "dense_beats_fusion": (DELIVERED, "fusion"),
                            "hybrid_beats_fusion": (f"{DELIVERED}+bm25", "fusion")}.items():
            c = out.get(f"{a} vs {b}")
            if c is not None:
                verdict[key] = bool(c["lo"] > 0)
        out["target"] = verdict
    return out


def run_relevance(config: RelevanceConfig, *, state_dir: str | os.PathLike = ".polarlab",
                  source: LLMSource | None = None, log: Log = lambda s: None,
                  labels_dir: str | os.PathLike | None = None) -> dict:
    """Run the methods of ``config`` and return ``{"retrievers": {method: {ndcg@10, recall@100,
    llm_calls, seconds, ...}}, "risk": {...}, "comparisons": {...}, "skipped": {"methods": {method: why},
    "metrics": {what: why}}, "config": {...}}``.

    The qrels are optional (:mod:`.gold`): without test qrels a trained method's entry has no metrics and the
    methods that only measure are skipped; without train qrels ``supervised`` is skipped, every query that is not a
    test query is labelled and the risk entries hold no calibration. Each skip is one log line and an entry of
    ``"skipped"``; a split the settings name (``train_split``, ``test_split``) must have its qrels file.

    Parameters:
        state_dir: caches (LLM answers, embeddings) and the trained models (``models/<method>``).
        source: an LLM source to use instead of the one ``config.llm`` describes.
        log: progress messages.
        labels_dir: also write each POLAR method's relevance labels of the pool pairs there as
            ``labels_<method>.csv`` (:meth:`_Run.pair_labels`; ``polar``, ``polar_self_training``), listed under
            ``"labels"`` in the result.
    """
    import torch

    state = Path(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(config.threads)
    try:
        run = _Run(config, state, source, log)
        skipped = {m: why for m in config.methods if (why := run.splits.why_skip(m))}
        methods = [m for m in config.methods if m not in skipped]
        for m, why in skipped.items():
            log(f"{m}: skipped, {why}")
        not_measured = run.splits.skipped_metrics(methods)
        for what, why in not_measured.items():
            log(f"{what}: skipped, {why}")
        needs_pool = {"llm_labels", "polar", "polar_self_training", "supervised"} & set(methods)
        if needs_pool and not run.train_q:
            raise DataError("no queries to label: every query of queries.jsonl is a test query",
                            file=str(Path(config.data) / "queries.jsonl"),
                            fix=f"add the queries to label (without test qrels), or "
                                f"{run.splits.train_file.name} naming them")
        if set(LLM_METHODS) & set(methods):
            check_llm(run.judge.source)          # a wrong server stops here, not after the first stage
        res: dict[str, dict] = {}
        risk: dict[str, dict] = {}
        all_skipped = bool(skipped) and not methods
        first = {} if all_skipped else run.first_stage(bm25_only=methods == ["bm25"])
        res.update({m: first[m] for m in ("bm25", "dense", "fusion") if m in methods})
        for m in res:
            log(f"{m}: nDCG@10 {res[m]['ndcg@10']:.3f}, Recall@100 {res[m]['recall@100']:.3f}; "
                f"{res[m]['seconds']:.0f} s")
        if needs_pool:
            run.pool()
        for m in methods:
            if m in res:
                continue
            log(f"{m} ...")
            if m == "llm_labels":
                res[m] = run.llm_labels()
            elif m == "polar":
                res[m], risk[m] = run.polar()
            elif m == "polar_self_training":
                res[m], risk[m] = run.self_training()
            elif m == "supervised":
                res[m] = run.supervised()
            elif m == "llm_rerank":
                res[m] = run.llm_rerank()
            hy = res[m].get("with_bm25")
            log(f"{m}: " + (f"nDCG@10 {res[m]['ndcg@10']:.3f}, Recall@100 {res[m]['recall@100']:.3f}"
                            if "ndcg@10" in res[m] else f"model {res[m]['model']} (no test metrics)")
                + (f"; fused with BM25 {hy['ndcg@10']:.3f} / {hy['recall@100']:.3f}" if hy else "")
                + f"; {res[m]['llm_calls']} LLM calls, {res[m]['seconds']:.0f} s")
        out = {"retrievers": {m: res[m] for m in methods if m in res}, "risk": risk,
               "comparisons": comparisons(run.per_query, res, config.budget),
               "skipped": {"methods": skipped, "metrics": not_measured}, "config": config.model_dump()}
        if labels_dir is not None and run.labels:
            from ..io.atomic import write_text

            out["labels"] = {}
            for m, frame in run.labels.items():
                path = Path(labels_dir) / f"labels_{m}.csv"
                write_text(path, frame.to_csv(index=False))
                out["labels"][m] = str(path)
        out["labelled"] = {m: {"queries": int(f["query_id"].nunique()), "pairs": len(f),
                               "llm_judged": int((f["llm_vote"] >= 0).sum())} for m, f in run.labels.items()}
        if source is not None or run._judge is not None:
            out["llm_backend_calls"] = run.judge.total_backend_calls
            out["llm_usage"] = {"relevance judge": run.judge.usage.to_dict()}
        return out
    finally:
        torch.set_num_threads(threads)


def run_project(path: str | os.PathLike, output_dir: str | os.PathLike | None = None,
                progress: bool = True) -> dict[str, Path]:
    """``polarlab run`` of a ``[task] kind = "relevance"`` project: every method of its ``[relevance]`` table,
    the relevance labels of each POLAR method in ``<output_dir>/labels_<method>.csv``, the results in
    ``<output_dir>/metrics.json`` (default ``out/`` beside the project file); caches and trained
    retrievers in ``[project] state_dir`` (default ``.polarlab``)."""
    from ..io.outputs import check_writable
    from ..jobs.record import recorded_run
    from .config import load_relevance_project
    from .job import paths as job_paths

    path = Path(path)
    config = load_relevance_project(path)
    where = job_paths(path)
    state = where.state_dir
    out = Path(output_dir) if output_dir else path.parent / "out"
    check_writable(out, str(path), "--out" if output_dir else "output")
    log = (lambda s: print(s, flush=True)) if progress else (lambda s: None)
    with recorded_run(path, "relevance", state, where.inputs) as notes:   # polarlab status reads it
        result = run_relevance(config, state_dir=state, log=log, labels_dir=out)
        notes.outputs = write_outputs(result, out)
        notes.counts = {f"{k} ({m})": v for m, c in result["labelled"].items() for k, v in c.items()}
        notes.llm = result.get("llm_usage", {})
    return notes.outputs


def write_outputs(result: dict, output_dir: str | os.PathLike) -> dict[str, Path]:
    """Write ``<output_dir>/metrics.json`` (the result of :func:`run_relevance`, run with ``labels_dir=output_dir``,
    which wrote the labels files; strict JSON, NaN / ±inf as null) and return everything the run wrote by name:
    ``labels (<method>)`` (each POLAR method's pair labels), ``metrics``, and ``model (<method>)`` (the folder of
    each retriever it trained, in the state folder: ``models/<method>``, self-training's last round). A project
    run and ``polarlab bench relevance --out DIR`` write their outputs through this one function; ``polarlab
    status`` tracks every one."""
    from ..io.atomic import write_text
    from ..io.jsonout import dumps

    metrics = Path(output_dir) / "metrics.json"
    write_text(metrics, dumps(result, indent=2, default=str))
    models = {f"model ({m})": Path(r["model"]) for m, r in result.get("retrievers", {}).items() if r.get("model")}
    return {**{f"labels ({m})": Path(p) for m, p in result.get("labels", {}).items()}, "metrics": metrics, **models}
