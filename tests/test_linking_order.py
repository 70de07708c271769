"""The linking job's samples do not depend on the order of the unlabelled documents: the same documents
in any order give the same self-supervised mentions, pseudo-dev set, training examples and prototypes."""
from __future__ import annotations

import random

import numpy as np
import pytest

from polarlab.data.pubtator import Document
from polarlab.linking.config import LinkingConfig
from polarlab.linking.mentions import MentionSet
from polarlab.linking.pipeline import _Job, _self_supervision, contrastive_trainer
from polarlab.linking.pseudodev import choose_pseudo_dev, drop_hidden
from polarlab.linking.selfsup import sample_per_entity, self_supervised_mentions
from polarlab.ontology import NameMatcher, load_ontology

OBO = """format-version: 1.2

[Term]
id: DOID:1
name: Wilson disease
synonym: "hepatolenticular degeneration" EXACT []

[Term]
id: DOID:2
name: breast cancer
synonym: "breast carcinoma" EXACT []
synonym: "mammary carcinoma" EXACT []

[Term]
id: DOID:3
name: cystic fibrosis
synonym: "mucoviscidosis" EXACT []

[Term]
id: DOID:4
name: colorectal cancer
synonym: "colon cancer" EXACT []
"""

PHRASES = ["Wilson disease", "hepatolenticular degeneration", "breast cancer", "breast carcinoma",
           "mammary carcinoma", "cystic fibrosis", "mucoviscidosis", "colorectal cancer", "colon cancer"]


@pytest.fixture
def ontology(tmp_path):
    (tmp_path / "tiny.obo").write_text(OBO, encoding="utf-8")
    return load_ontology(tmp_path / "tiny.obo")


def _documents(n: int = 40) -> list[Document]:
    """``n`` documents naming 2-3 terms each: every term has many mentions to sample from."""
    rng = random.Random(7)
    docs = []
    for i in range(n):
        names = rng.sample(PHRASES, 3)
        docs.append(Document(f"{1000 + 37 * i % 101}", f"Patients with {names[0]} were seen.",
                             f"Their relatives had {names[1]} or {names[2]} in study {i}."))
    return docs


def _sample(docs: list[Document], ontology) -> dict:
    """What the job samples from the unlabelled documents (the pipeline's own steps, no model)."""
    cfg = LinkingConfig(corpus=["c"], calibration={"pseudo_dev": 3, "per_term": 2}, prototypes_per_entity=2,
                        train={"max_examples": 12, "per_entity": 3, "name_pairs": 0})
    link = MentionSet(["900"], np.array([0]), np.array([14]), ["Wilson disease"], ["[M] Wilson disease [/M]"], None,
                      {"900": "Wilson disease in a boy."})
    job = _Job(link, ontology, docs, cfg, (), None, False, None)
    ss = _self_supervision(job)
    triples = contrastive_trainer(cfg).make_examples(drop_hidden(ss.pool, ss.dev.hidden_names), ss.doc_texts,
                                                     ontology)
    return {"documents": [d.id for d in job.unlabelled], "selfsup": ss.selfsup, "dev": ss.dev.mentions,
            "hidden": ss.dev.hidden.tolist(), "pool": ss.pool, "triples": triples,
            "prototypes": sample_per_entity(ss.selfsup, cfg.prototypes_per_entity, cfg.seed),
            "dev_prototypes": sample_per_entity(drop_hidden(ss.pool, ss.dev.hidden_names), 2, cfg.seed)}


def test_the_job_samples_the_same_whatever_the_order_of_the_unlabelled_documents(ontology):
    docs = _documents()
    first = _sample(docs, ontology)
    assert len(first["selfsup"]) > 3 * len(docs) // 2 and len(first["dev"]) == 6 and len(first["triples"]) == 12
    for seed in range(3):
        shuffled = docs[:]
        random.Random(seed).shuffle(shuffled)
        assert _sample(shuffled, ontology) == first
    assert _sample(docs[::-1], ontology) == first


def test_the_sampling_functions_are_order_free_on_their_own(ontology):
    """Self-supervised mentions, the per-term sample and the pseudo-dev set, called directly."""
    docs = _documents()
    found = self_supervised_mentions(docs, NameMatcher(ontology))
    assert found == self_supervised_mentions(docs[::-1], NameMatcher(ontology))
    assert [(m.doc_id, m.start) for m in found] == sorted((m.doc_id, m.start) for m in found)
    back = found[::-1]
    assert sample_per_entity(back, 2, seed=3) == sample_per_entity(found, 2, seed=3)
    a, b = choose_pseudo_dev(found, ontology, 3, 0.5, seed=1), choose_pseudo_dev(back, ontology, 3, 0.5, seed=1)
    assert a.mentions == b.mentions and a.hidden.tolist() == b.hidden.tolist() and a.hidden_names == b.hidden_names
