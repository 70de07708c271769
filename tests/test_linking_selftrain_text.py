"""Self-training on the unlabelled text: mentions detected there without gold (the span task's rule
sources), linked by the first-pass linkers and POLAR without refitting, and the low-risk links as KRISS
prototypes of the terms they link — the corpus's own surfaces, not only ontology names."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.data.pubtator import Document
from polarlab.errors import ConfigError, InputError
from polarlab.harmonizer import PolarHarmonizer
from polarlab.linking import MentionSet
from polarlab.linking.config import LinkingConfig, linking_project_from_dict
from polarlab.linking.harmonize import apply_links, harmonize
from polarlab.linking.linkers import ExactLinker, SparseLinker, names_table
from polarlab.linking.linkers.kriss import KrissLinker
from polarlab.linking.candidates import rank_and_slot
from polarlab.linking.pipeline import link_text_mentions
from polarlab.linking.selftrain import self_trained_kriss
from polarlab.linking.textmentions import distinct_links, text_mentions
from polarlab.ontology.matcher import NameMatcher
from polarlab.ontology.terms import Ontology, Term, normalize_name

from hash_encoder import HashEncoder




ONTO = Ontology([Term("D:1", "Wilson disease", ["hepatolenticular degeneration"]),
                 Term("D:2", "breast cancer", ["breast carcinoma"]),
                 Term("D:3", "familial adenomatous polyposis", []),
                 Term("D:4", "complement component 7 deficiency", []),
                 Term("D:5", "iron deficiency", [])])


def _mentions(doc_id: str, text: str, surfaces: list[str]) -> MentionSet:
    starts = np.asarray([text.index(s) for s in surfaces])
    return MentionSet([doc_id] * len(surfaces), starts, starts + np.asarray([len(s) for s in surfaces]),
                      list(surfaces), [], None, {doc_id: text})


def test_text_mentions_find_the_corpus_surfaces_without_gold():
    docs = [Document("a", "Hereditary breast cancers in X-linked families.",
                     "Familial adenomatous polyposis (FAP) is inherited. FAP patients and one C7 deficiency case.",
                     mentions=[]),
            Document("b", "Nothing here.", "Only proteins.")]
    ms = text_mentions(docs, ONTO, "spans", window=0)
    found = set(ms.texts)
    assert ms.gold is None and set(ms.doc_ids) == {"a"}
    assert {"Hereditary breast cancers", "C7 deficiency"} <= found          # surfaces that are no ontology name
    names = {n.lower() for t in ONTO.ids for n in ONTO.names(t)}
    assert any(s.lower() not in names for s in found)
    assert ms.surfaces[ms.texts.index("FAP")] == "Familial adenomatous polyposis"   # abbreviation read as long form
    assert all(s[0].isalnum() and s[-1].isalnum() for s in found)                    # no fragment like "X-"
    for d, s, e, t in zip(ms.doc_ids, ms.starts, ms.ends, ms.texts):
        assert docs[0].text[s:e] == t
    assert text_mentions([docs[1]], ONTO, "spans") is None
    with pytest.raises(ValueError, match="unknown text detector"):
        text_mentions(docs, ONTO, "nope")


def test_distinct_links_keep_one_prototype_per_surface_and_term():
    ms = _mentions("a", "C7 deficiency, c7  deficiency, C7 deficiency and anemia", ["C7 deficiency"] * 3 + ["anemia"])
    ms.surfaces = ["C7 deficiency", "c7  deficiency", "C7 deficiency", "anemia"]
    keep = distinct_links(ms, np.array([3, 3, 4, 0]), np.array([True, True, True, False]))
    assert keep.tolist() == [True, False, True, False]


def test_text_links_become_prototypes_and_change_the_second_pass_link():
    """"C7 deficiency" alone reads closer to "iron deficiency" (bag of words); once the same surface linked
    in the unlabelled text is a prototype of complement component 7 deficiency, KRISS follows it."""
    pos = {t: e for e, t in enumerate(ONTO.ids)}
    names = names_table(ONTO, np.arange(len(ONTO)))
    test = _mentions("t1", "One C7 deficiency case.", ["C7 deficiency"])
    text = _mentions("u1", "Families with C7 deficiency.", ["C7 deficiency"])
    enc = HashEncoder()
    before = KrissLinker(enc, window=0).fit(names, pos).rank(test, 2).top1[0]
    assert ONTO.ids[before] == "D:5"
    nothing = np.zeros(1, dtype=bool)
    lk = self_trained_kriss(enc, None, 0, 0, names, pos, [], {}, test, nothing, np.array([-1]), ONTO,
                            text_links=(text, np.array([pos["D:4"]])))
    assert ONTO.ids[lk.rank(test, 2).top1[0]] == "D:4" and lk.n_prototypes_ == len(names.texts) + 1
    same = self_trained_kriss(enc, None, 0, 0, names, pos, [], {}, test, nothing, np.array([-1]), ONTO)
    assert ONTO.ids[same.rank(test, 2).top1[0]] == "D:5"


def test_link_text_mentions_harmonizes_without_refitting_and_keeps_low_risk_distinct_links():
    pos = {t: e for e, t in enumerate(ONTO.ids)}
    names = names_table(ONTO, np.arange(len(ONTO)))
    link_text = "Wilson disease and breast carcinoma. Breast cancers and C7 deficiency and iron deficiency."
    link_docs = [Document("t1", link_text)]
    test = _mentions("t1", link_text, ["Wilson disease", "breast carcinoma", "Breast cancers", "C7 deficiency",
                                       "iron deficiency"])
    linkers = {"exact": ExactLinker().fit(ONTO), "sparse": SparseLinker().fit(ONTO),
               "kriss": KrissLinker(HashEncoder(), window=0).fit(names, pos)}
    cfg = LinkingConfig(corpus=["c.txt"], self_train_text="spans", self_train_text_surfaces="all", window=0,
                        n_slots=4, top_k=3)
    matcher = NameMatcher(ONTO)
    _, slots = rank_and_slot(linkers, test, {"t1": set()}, cfg)
    harm = harmonize(slots, PolarHarmonizer(n_classes=4, model="lr", seed=0, combine="h"))
    again = apply_links(harm, slots)                      # the fitted h, not refitted, gives the same links
    assert np.array_equal(again.ranking.entities, harm.ranking.entities) and np.allclose(again.risk, harm.risk)
    unl = link_docs + [Document("u1", "Hereditary breast cancers and Wilson disease.",
                                "Wilson disease again; breast cancers in C7 deficiency families.")]
    out, info = link_text_mentions(linkers, harm, unl, ONTO, matcher, np.arange(len(ONTO)), cfg, 1.01, {"t1"})
    ms, ents = out
    assert set(ms.doc_ids) == {"u1"} and info["documents"] == 1          # the documents to link are skipped
    assert info["mentions"] >= info["low_risk"] >= info["prototypes"] == len(ms) >= 1
    keys = [(s.lower(), int(e)) for s, e in zip(ms.surfaces, ents)]
    assert len(keys) == len(set(keys)) and ("wilson disease", pos["D:1"]) in keys
    # by default only surfaces that are no ontology name (a name's occurrences are self-supervised already)
    non, info_n = link_text_mentions(linkers, harm, unl, ONTO, matcher, np.arange(len(ONTO)),
                                     cfg.model_copy(update={"self_train_text_surfaces": "non_names"}), 1.01, {"t1"})
    is_name = lambda s: normalize_name(s) in ONTO.name_index()  # noqa: E731  ("breast cancers" normalises to a name)
    assert info_n["name_surfaces"] >= 2 and [s for s in ms.surfaces if not is_name(s)] == non[0].surfaces
    assert {"Hereditary breast cancers", "C7 deficiency"} <= set(non[0].surfaces)
    none, info0 = link_text_mentions(linkers, harm, unl, ONTO, matcher, np.arange(len(ONTO)), cfg, 0.0, {"t1"})
    assert none is None and info0["prototypes"] == 0 and info0["mentions"] == info["mentions"]
    small = np.array([pos["D:2"]])                      # only links to searched terms become prototypes
    out2, _ = link_text_mentions(linkers, harm, unl, ONTO, matcher, small, cfg, 1.01, {"t1"})
    assert out2 is not None and set(out2[1].tolist()) == {pos["D:2"]}


def test_mention_sets_concatenate_and_refuse_two_texts_for_one_document():
    a = _mentions("a", "Wilson disease.", ["Wilson disease"])
    b = _mentions("b", "Breast cancer.", ["Breast cancer"])
    ab = a.concat(b)
    assert ab.doc_ids == ["a", "b"] and ab.contexts_at(0) == ["[M] Wilson disease [/M]", "[M] Breast cancer [/M]"]
    with pytest.raises(InputError, match="two different texts"):
        a.concat(_mentions("a", "Other text of a.", ["Other"]))


def test_self_train_text_setting_is_validated():
    cfg = LinkingConfig(corpus=["c.txt"])
    assert cfg.self_train_text == "off" and cfg.self_train_text_surfaces == "non_names"
    with pytest.raises(ConfigError, match="self_train_text"):
        linking_project_from_dict({"ontology": {"paths": ["o"]},
                                   "linking": {"corpus": ["c.txt"], "self_train_text": "gold"}})
