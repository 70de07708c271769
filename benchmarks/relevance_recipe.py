"""Choose the bi-encoder training recipe WITHOUT gold: agreement with held-out harmonized labels.

The train claims are the queries a project run labels (:mod:`polarlab.relevance.gold`): those of
``qrels/train.tsv``, or, without train qrels, every query that is not a test query (every query without test qrels
either); ``--train-queries N`` keeps the first N. They are split (every 5th held out, the rest fit;
``--hold-every``). POLAR harmonizes the cheap sources (BM25 and MiniLM rank votes, lexical overlap; no LLM, no
qrels) over the fused top-20 pool of every train claim. Each
recipe trains MiniLM on the fit claims' triplets; it is scored by nDCG@10 of its ranking of each held-out
claim's pool against that claim's harmonized labels (P(relevant) >= 0.5 counts as relevant). Of the qrels only
the query ids are read (which queries are train claims, or test claims to leave out), never a judgement: the choice
is gold-free, and runs the same on a folder without any qrels. Off-the-shelf MiniLM is scored the same way
for reference.

    python benchmarks/relevance_recipe.py ../shared/data/scifact --state-dir /tmp/recipe

Prints a table and one JSON object (per recipe: held-out agreement, triplets, training seconds; the chosen
recipe) as its last line; without train qrels it also has "train_claims": where the claims came from.
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null

RECIPES = {
    "hn1": dict(hard_negatives=1, epochs=1, lr=2e-5),      # the recipe before this check
    "hn3": dict(hard_negatives=3, epochs=1, lr=2e-5),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("beir", type=Path)
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab/recipe"))
    ap.add_argument("--recipes", default=",".join(RECIPES), help=f"comma-separated subset of {list(RECIPES)}")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-queries", type=int, default=None, help="only the first N train claims")
    ap.add_argument("--hold-every", type=int, default=5, help="hold out every N-th train claim")
    args = ap.parse_args()

    import torch

    from polarlab.features.embedding import cached_encode
    from polarlab.relevance.beir import load_beir
    from polarlab.relevance.candidates import BM25Retriever, DenseRetriever, rrf_fuse
    from polarlab.relevance.config import make_config
    from polarlab.relevance.gold import GoldSplits, qrels_to_load
    from polarlab.relevance.harmonize import harmonize
    from polarlab.relevance.labels import triplets_from_scores
    from polarlab.relevance.metrics import ndcg_at_k
    from polarlab.relevance.pool import build_pool, pair_features
    from polarlab.relevance.sources import cheap_votes
    from polarlab.relevance.trainer import BiEncoderTrainer

    torch.set_num_threads(args.threads)
    t0 = time.perf_counter()
    config = make_config(data=str(args.beir))             # default splits: both qrels files optional
    data = load_beir(args.beir, **qrels_to_load(config))
    splits = GoldSplits.of(config, data)
    train_q = splits.train_queries(data, args.train_queries)
    claims = splits.train_queries_from()
    print(f"train claims: {claims} ({len(train_q)})", flush=True)
    held = set(train_q[args.hold_every - 1::args.hold_every])
    enc_kw = dict(max_seq_length=128, cache_dir=args.state_dir / "emb")
    bm25 = BM25Retriever().fit(data)
    dense = DenseRetriever(**enc_kw)
    rb = bm25.retrieve(data, train_q, 100)
    rd = dense.retrieve(data, train_q, 100)
    rf = rrf_fuse([rb, rd], 100)
    Q = dense.encode_queries(data, train_q)
    D = dense.encode_corpus(data)
    pool = build_pool(data, rb, rd, rf, 20, Q, D, stem=bm25.stem_)
    X = pair_features(pool, dict(zip(train_q, Q)), D)
    no_llm = np.full(len(pool), -1, dtype=np.int64)
    p = harmonize(X, {**cheap_votes(pool), "llm": no_llm}, tune_llm=False).p_relevant
    held_rows = np.array([i for i, q in enumerate(pool.qids) if q in held])
    pseudo: dict[str, dict[str, int]] = {}
    for i in held_rows:
        if p[i] >= 0.5:
            pseudo.setdefault(pool.qids[i], {})[data.doc_ids[int(pool.doc_idx[i])]] = 1
    if not pseudo:
        raise SystemExit("no held-out claim has a pair the harmonizer calls relevant: hold out more claims "
                         "(--hold-every) or use more train claims")
    print(f"{len(train_q) - len(held)} fit claims, {len(held)} held out ({len(pseudo)} with a harmonized "
          f"positive); setup {time.perf_counter() - t0:.0f} s", flush=True)

    def agreement(model_dir) -> float:
        enc = DenseRetriever(model_dir, **enc_kw)
        qids = sorted(pseudo)
        qv = dict(zip(qids, enc.encode_queries(data, qids)))
        docs = sorted({int(pool.doc_idx[i]) for i in held_rows})
        dv = dict(zip(docs, cached_encode([data.doc_text(d) for d in docs], enc.embedder, enc_kw["cache_dir"])))
        run = {q: {} for q in qids}
        for i in held_rows:
            q = pool.qids[i]
            if q in run:
                d = int(pool.doc_idx[i])
                run[q][data.doc_ids[d]] = float(qv[q] @ dv[d])
        return ndcg_at_k(run, {q: pseudo[q] for q in qids}, 10)

    out = {"off_the_shelf": {"agreement": round(agreement(None), 4)}}
    print(f"off-the-shelf MiniLM: held-out agreement nDCG@10 {out['off_the_shelf']['agreement']:.4f}", flush=True)
    for name in args.recipes.split(","):
        r = RECIPES[name]
        trips = [t for t in triplets_from_scores(pool, p, max_pos=1, n_neg=r["hard_negatives"]) if t.qid not in held]
        tr = BiEncoderTrainer(epochs=r["epochs"], lr=r["lr"], num_threads=args.threads)
        tr.fit(data, trips, args.state_dir / "recipe_models" / name)
        a = agreement(tr.model_path_)
        out[name] = {**r, "agreement": round(a, 4), "triplets": len(trips), "train_seconds": round(tr.train_seconds_, 1)}
        print(f"{name} {r}: held-out agreement nDCG@10 {a:.4f} ({len(trips)} triplets, "
              f"{tr.train_seconds_:.0f} s training)", flush=True)
    chosen = max((k for k in out if k in RECIPES), key=lambda k: out[k]["agreement"])
    result = {"recipes": out, "chosen": chosen, "held_out": len(held),
              "seconds": round(time.perf_counter() - t0, 1)}
    if splits.train is None:
        result["train_claims"] = claims
    print(dumps(result))


if __name__ == "__main__":
    main()
