"""A SUPERVISED UPPER BOUND for the KRISS linker on NCBI-disease (reads gold BY DESIGN; never a method).

The shipped KRISS linker learns from ontology names matched in unlabelled text (no gold). This
measurement asks how far the same recipe could go if the self-supervision were perfect: the
NCBI-disease train+dev GOLD mentions (their MeSH/OMIM ids mapped to Disease Ontology terms through
the xrefs, as the bench maps the test gold) replace the self-supervised mentions

* as the contrastive training examples (same encoder, all-MiniLM-L6-v2; same trainer, loss, budget
  and synonym pairs: :func:`polarlab.linking.pipeline.contrastive_trainer` with the default
  ``[linking.train]``), and
* as the KRISS prototypes (3 sampled gold mentions per term, or all of them, plus the names),

searched over the same terms (the bench's gold-free universe) for the same test mentions. Variants:
context on (window 80) / off, trained / untrained encoder (prototypes only), names only. The
names-only MiniLM baseline (``names_dense``) is measured in the same run.

    OMP_NUM_THREADS=1 python benchmarks/linking_supervised_bound.py [--data ../shared/data]
        [--max-examples N --per-entity N]   # a larger training budget than the default (512, 2)

The last line is one JSON object: ``{"bound": {variant: {acc1_mappable, acc5_mappable, ...}},
"names_dense": {...}, "target_acc1_mappable": names_dense + 0.05, "gold_train": {...}, "seconds": ...}``.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

from polarlab.io.jsonout import dumps  # noqa: E402 - after the thread setting; strict JSON last line


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    ap.add_argument("--state-dir", type=Path, default=Path(".polarlab"))
    ap.add_argument("--max-examples", type=int, default=None, help="gold mentions trained on (default: [linking.train])")
    ap.add_argument("--per-entity", type=int, default=None, help="cap per term (default: [linking.train])")
    ap.add_argument("--name-pairs", type=int, default=None, help="synonym pairs (default: [linking.train])")
    ap.add_argument("--limit-docs", type=int, default=None, help="link only the first N test documents (development)")
    args = ap.parse_args()
    print(dumps(supervised_bound(args), separators=(",", ":")))


def supervised_bound(args) -> dict:
    import numpy as np
    import torch

    from polarlab.data.pubtator import read_pubtator
    from polarlab.features.embedding import Embedder
    from polarlab.linking.bench import corpus_files
    from polarlab.linking.config import LinkingConfig
    from polarlab.linking.encoder import MemoEncoder
    from polarlab.linking.evaluate import link_accuracy, map_gold
    from polarlab.linking.linkers import KrissLinker, RowTable, names_table
    from polarlab.linking.mentions import MentionSet, in_context
    from polarlab.linking.candidates import fit_name_linkers
    from polarlab.linking.pipeline import contrastive_trainer, peak_rss_mb
    from polarlab.linking.selfsup import SelfSupMention, sample_per_entity
    from polarlab.ontology.load import load_ontology
    from polarlab.ontology.terms import normalize_name

    t0 = time.perf_counter()
    test_files, train_files = corpus_files(args.data / "ncbi_disease")
    onto = load_ontology(args.data / "disease_ontology")
    test_docs = [d for f in test_files for d in read_pubtator(f)][:args.limit_docs]
    train_docs = [d for f in train_files for d in read_pubtator(f)]
    cfg = LinkingConfig(corpus=[str(f) for f in test_files], unlabelled=[str(f) for f in train_files])
    if args.max_examples is not None:
        cfg.train.max_examples = args.max_examples
    if args.per_entity is not None:
        cfg.train.per_entity = args.per_entity
    if args.name_pairs is not None:
        cfg.train.name_pairs = args.name_pairs
    torch.set_num_threads(cfg.num_threads or 1)
    ids = onto.ids
    pos = {t: e for e, t in enumerate(ids)}

    def mapped(docs):
        ms = MentionSet.from_documents(docs, 0, cfg.expand_abbreviations)
        where = [f"document {d}, span {s}-{e}" for d, s, e in zip(ms.doc_ids, ms.starts, ms.ends)]
        return ms, map_gold(ms.gold, onto, cfg.gold_prefixes, cfg.bare_gold_prefix, where)

    test, gold = mapped(test_docs)
    train_ms, train_gold = mapped(train_docs)
    # gold train+dev mentions as "self-supervised" ones: one per mapped term, the surface as linkers read it
    gold_ss = [SelfSupMention(d, int(s), int(e), sf, ids[p])
               for d, s, e, sf, ents in zip(train_ms.doc_ids, train_ms.starts, train_ms.ends, train_ms.surfaces,
                                            train_gold.entities) for p in sorted(ents)]
    doc_texts = train_ms.doc_texts
    base = MemoEncoder(Embedder(batch_size=64), cfg.max_seq_length, args.state_dir / "embeddings", tag="base")
    linkers, universe, _ = fit_name_linkers(onto, test, test_docs, cfg, base)
    names = names_table(onto, universe)
    in_universe = {ids[e] for e in universe}
    sampled = sample_per_entity(gold_ss, cfg.prototypes_per_entity, cfg.seed, in_universe)
    every = sample_per_entity(gold_ss, len(gold_ss), cfg.seed, in_universe)
    t_load = time.perf_counter() - t0

    trainer = contrastive_trainer(cfg)
    triples = trainer.make_examples(gold_ss, doc_texts, onto, linkers["sparse"])
    triples += trainer.make_name_pairs(onto, sorted(in_universe), linkers["sparse"])
    tuned = MemoEncoder(Embedder(batch_size=64), cfg.max_seq_length, None, tag="kriss_gold", pooling=cfg.pooling)
    trainer.fit(tuned, triples)
    untrained = MemoEncoder(base.embedder, cfg.max_seq_length, None, tag="base", pooling=cfg.pooling, memo=base._memo)

    def protos(ms: list, window: int) -> RowTable:
        """Gold mentions in context (the expanded surface written, as test queries are)."""
        return RowTable([in_context(doc_texts[m.doc_id], m.start, m.end, window, m.surface) for m in ms],
                        np.asarray([pos[m.entity] for m in ms], dtype=np.int64))

    def kriss(encoder, window, ms=None):
        lk = KrissLinker(encoder, window, use_contexts=False)
        return lk.fit(names, pos, gold_prototypes=None if ms is None else protos(ms, window))

    w = cfg.window
    variants = {
        f"gold_trained_context{w}": kriss(tuned, w, sampled),
        "gold_trained_no_context": kriss(tuned, 0, sampled),
        f"gold_trained_context{w}_all_prototypes": kriss(tuned, w, every),
        "gold_trained_no_context_all_prototypes": kriss(tuned, 0, every),
        "gold_trained_names_only": kriss(tuned, 0),
        f"untrained_gold_prototypes_context{w}": kriss(untrained, w, every),
        "untrained_gold_prototypes_no_context": kriss(untrained, 0, every),
    }
    k = cfg.top_k
    bound = {name: link_accuracy(lk.rank(test, k), gold) for name, lk in variants.items()}
    base_acc = {name: link_accuracy(linkers[name].rank(test, k), gold) for name in ("exact", "sparse", "names_dense")}
    best_names = max(v["acc1_mappable"] for v in base_acc.values())
    for name, r in {**base_acc, **bound}.items():
        print(f"{name:42s} acc@1 mappable {100 * r['acc1_mappable']:5.1f}  acc@5 mappable "
              f"{100 * r['acc5_mappable']:5.1f}  acc@1 all {100 * r['acc1_all']:5.1f}", file=sys.stderr)
    test_terms = set().union(*gold.entities)
    lookup = surface_lookup(train_ms.surfaces, train_gold.entities, test.surfaces, gold.entities)
    onto_names = {normalize_name(n) for t in ids for n in onto.names(t)}
    lookup["mappable_surface_is_name"] = int(sum(normalize_name(s) in onto_names
                                                 for s, mp in zip(test.surfaces, gold.mappable) if mp))
    return {
        "bound": bound, "name_only": base_acc, "target_acc1_mappable": best_names + 0.05,
        "best_bound_acc1_mappable": max(v["acc1_mappable"] for v in bound.values()),
        "gold_train": {"mentions": len(train_ms), "mappable": int(train_gold.mappable.sum()),
                       "examples_term_mentions": len(gold_ss), "terms": len({m.entity for m in gold_ss}),
                       "terms_with_prototype": len({m.entity for m in every}),
                       "test_mappable_with_gold_train_term": int(sum(
                           bool(g & {pos[m.entity] for m in every}) for g in gold.entities)),
                       "test_terms": len(test_terms)},
        "surface_lookup": lookup, "n_mentions": len(test), "n_mappable": int(gold.mappable.sum()), "universe": int(len(universe)),
        "train": {"examples": trainer.n_examples_, "steps": trainer.n_steps_, "seconds": trainer.seconds_,
                  "loss_first": trainer.losses_[0], "loss_last": trainer.losses_[-1],
                  "max_examples": cfg.train.max_examples, "per_entity": cfg.train.per_entity,
                  "name_pairs": cfg.train.name_pairs},
        "seconds": {"load_and_names": t_load, "total": time.perf_counter() - t0}, "peak_rss_mb": peak_rss_mb(),
    }


def surface_lookup(train_surfaces, train_entities, test_surfaces, test_entities) -> dict:
    """How much of the test the gold train mentions' surfaces alone give: the mappable test mentions
    whose normalised surface occurs among them, and how often that surface's most frequent gold term
    is right (a plain dictionary of the training annotations, no encoder)."""
    from collections import Counter

    from polarlab.ontology.terms import normalize_name

    table: dict[str, Counter] = {}
    for s, ents in zip(train_surfaces, train_entities):
        for e in ents:
            table.setdefault(normalize_name(s), Counter())[e] += 1
    seen = right = n = 0
    for s, ents in zip(test_surfaces, test_entities):
        if not ents:
            continue
        n += 1
        c = table.get(normalize_name(s))
        if c:
            seen += 1
            right += c.most_common(1)[0][0] in ents
    return {"mappable": n, "surface_seen": seen, "lookup_right": right,
            "share_seen": seen / max(1, n), "lookup_acc1_mappable": right / max(1, n)}


if __name__ == "__main__":
    main()
