"""Unlabelled text for self-supervision (PubTator / BEIR JSONL / plain text) and the self-training
prototypes of the KRISS linker (a linked mention is a prototype of its entity, never of itself)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from polarlab.errors import DataError
from polarlab.linking import MentionSet
from polarlab.linking.linkers import RowTable
from polarlab.linking.linkers.kriss import KrissLinker
from polarlab.linking.unlabelled import read_unlabelled

from hash_encoder import HashEncoder


def test_unlabelled_files_in_three_formats(tmp_path):
    beir = tmp_path / "corpus.jsonl"
    beir.write_text(json.dumps({"_id": "7", "title": "Cystic fibrosis.", "text": "CFTR mutations."}) + "\n\n"
                    + json.dumps({"id": "8", "text": "Wilson disease and copper."}) + "\n", encoding="utf-8")
    plain = tmp_path / "notes.txt"
    plain.write_text("Breast cancer in women.\n\n  Colon cancer screening.  \n", encoding="utf-8")
    pub = tmp_path / "train.txt"
    pub.write_text("7|t|Ataxia telangiectasia.\n7|a|ATM loss.\n7\t0\t21\tAtaxia telangiectasia\tDisease\tD001260\n",
                   encoding="utf-8")
    docs = read_unlabelled([beir, plain, pub])
    # an id naming two texts gets its file's name in both files
    assert [d.id for d in docs] == ["corpus:7", "8", "notes:1", "notes:3", "train:7"]
    assert docs[0].text == "Cystic fibrosis. CFTR mutations."
    assert docs[1].text == "Wilson disease and copper." and docs[3].text == "Colon cancer screening."
    assert docs[4].text == "Ataxia telangiectasia. ATM loss." and len(docs[4].mentions) == 1   # read as PubTator


def test_unlabelled_ids_do_not_depend_on_the_files_order(tmp_path):
    """A repeated document is read once; clashing ids are renamed the same way in any file order."""
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("7|t|Cystic fibrosis.\n7|a|CFTR.\n\n9|t|Colon cancer.\n\n7|t|Cystic fibrosis.\n7|a|CFTR.\n",
                 encoding="utf-8")
    b.write_text("7|t|Wilson disease.\n\n9|t|Colon cancer.\n\n8|t|Breast cancer.\n", encoding="utf-8")
    one, two = read_unlabelled([a, b]), read_unlabelled([b, a])
    assert sorted((d.id, d.text) for d in one) == sorted((d.id, d.text) for d in two) == [
        ("8", "Breast cancer."), ("9", "Colon cancer."), ("a:7", "Cystic fibrosis. CFTR."), ("b:7", "Wilson disease.")]
    a.write_text("7|t|Cystic fibrosis.\n\n7|t|Wilson disease.\n", encoding="utf-8")    # one file, two texts
    assert sorted(d.id for d in read_unlabelled([a])) == ["a:7#1", "a:7#2"]


@pytest.mark.parametrize("content, line, what", [
    ('{"_id": "1", "text": "ok"}\n{"_id": "2", "text": \n', 2, "invalid JSON"),
    ('{"_id": "1", "title": "no text"}\n', 1, "text"),
    ('["a list"]\n', 1, "not an object"),
    ('{"_id": "1", "title": 3, "text": "x"}\n', 1, "title"),
])
def test_bad_jsonl_names_the_file_and_line(tmp_path, content, line, what):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_unlabelled([bad])
    assert e.value.line == line and "bad.jsonl" in str(e.value) and what in str(e.value)


def test_missing_empty_or_binary_unlabelled_file_is_refused(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_unlabelled([tmp_path / "nope.jsonl"])
    (tmp_path / "empty.txt").write_text("\n\n", encoding="utf-8")
    with pytest.raises(DataError, match="no text"):
        read_unlabelled([tmp_path / "empty.txt"])
    (tmp_path / "blob.txt").write_bytes(b"\xff\xfe\x00abc\x80\n")
    with pytest.raises(DataError, match="UTF-8"):
        read_unlabelled([tmp_path / "blob.txt"])




def _mentions(surfaces: list[str]) -> MentionSet:
    texts = {f"d{i}": s for i, s in enumerate(surfaces)}
    return MentionSet(list(texts), np.zeros(len(surfaces), dtype=np.int64),
                      np.asarray([len(s) for s in surfaces]), surfaces, [], None, texts)


def test_self_training_prototypes_never_link_a_mention_to_itself():
    names = RowTable(["alpha disease", "beta disease", "gamma syndrome"], np.array([0, 1, 2]))
    pos = {"A": 0, "B": 1, "C": 2}
    ms = _mentions(["zeta zeta kappa", "zeta zeta", "omega omega"])
    linked = ms.subset(np.array([True, True, True]))
    kr = KrissLinker(HashEncoder(skip=()), window=0).fit(names, pos, linked=(linked, np.array([2, 0, 1])))
    assert kr.n_prototypes_ == 3 + 3
    r = kr.rank(ms, 3)
    # with itself as a prototype each mention would get back its own link (similarity 1): 2, 0, 1
    assert r.top1[:2].tolist() == [0, 2]                  # the other "zeta" mention's link
    assert r.top1[2] != 1 and r.scores[0, 0] < 1.0 - 1e-6
    s = kr.score(ms, np.array([[2, 0, -1]]*3))
    assert s[0, 0] < 1.0 - 1e-6 and s[0, 1] == pytest.approx(r.scores[0, 0], abs=1e-6) and np.isnan(s[0, 2])
    # a mention outside the linked set may meet every linked prototype, the one with its own text included
    other = _mentions(["zeta zeta kappa"])
    other.doc_ids, other.doc_texts = ["elsewhere"], {"elsewhere": "zeta zeta kappa"}
    assert kr.rank(other, 1).top1.tolist() == [2] and kr.rank(other, 1).scores[0, 0] == pytest.approx(1.0, abs=1e-6)
    plain = KrissLinker(HashEncoder(skip=()), window=0).fit(names, pos)         # without linked prototypes
    assert plain.n_prototypes_ == 3 and plain.rank(ms, 1).top1.shape == (3,)


def test_mention_subset_keeps_the_order_and_the_texts():
    ms = _mentions(["a b", "c d", "e f"])
    ms.contexts = ms.contexts_at(0)
    sub = ms.subset(np.array([False, True, True]))
    assert sub.texts == ["c d", "e f"] and sub.doc_ids == ["d1", "d2"] and sub.contexts == ms.contexts[1:]
    assert ms.subset(np.array([2])).surfaces == ["e f"]


def test_folded_linker_links_each_document_with_its_folds_linker():
    from polarlab.linking.selftrain import FoldedLinker, document_folds, link_triples
    from polarlab.ontology.terms import Ontology, Term

    names = RowTable(["alpha disease", "beta disease"], np.array([0, 1]))
    pos = {"A": 0, "B": 1}
    ms = _mentions([f"alpha disease {i}" for i in range(12)])
    f = document_folds(ms.doc_ids)
    assert set(f.tolist()) == {0, 1} and (document_folds(ms.doc_ids) == f).all()      # stable, both folds used
    to_a = KrissLinker(HashEncoder(skip=()), window=0).fit(names, pos)
    to_b = KrissLinker(HashEncoder(skip=()), window=0).fit(RowTable(["alpha disease"], np.array([1])), pos)
    r = FoldedLinker([to_a, to_b]).rank(ms, 1)
    assert (r.top1 == np.where(f == 0, 0, 1)).all()
    s = FoldedLinker([to_a, to_b]).score(ms, np.tile([[0, 1]], (12, 1)))
    assert np.isnan(s[f == 1, 0]).all() and np.isfinite(s[f == 0, 0]).all()
    onto = Ontology()
    onto.terms["A"] = Term("A", "alpha disease", ["alpha syndrome"])
    onto.terms["B"] = Term("B", "beta disease", [])
    two = _mentions(["alpha disease", "Alpha disease", "beta disease"])
    triples = link_triples(two, np.array([0, 0, 1]), onto, 0)
    assert [(t.anchor, t.positive, t.entity) for t in triples] == [
        ("[M] alpha disease [/M]", "alpha syndrome", "A"), ("[M] beta disease [/M]", "beta disease", "B")]


def test_marked_name_prototypes_read_like_a_mention_without_context():
    names = RowTable(["alpha disease", "beta disease"], np.array([0, 1]))
    ms = _mentions(["alpha disease"])
    marked = KrissLinker(HashEncoder(skip=()), window=0, marked_names=True).fit(names, {"A": 0, "B": 1})
    plain = KrissLinker(HashEncoder(skip=()), window=0).fit(names, {"A": 0, "B": 1})
    assert marked.index_.table.texts == ["[M] alpha disease [/M]", "[M] beta disease [/M]"]
    assert plain.index_.table.texts == ["alpha disease", "beta disease"]
    assert marked.rank(ms, 1).scores[0, 0] == pytest.approx(1.0, abs=1e-6)
    assert plain.rank(ms, 1).scores[0, 0] < 1.0 - 1e-3
