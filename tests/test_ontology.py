"""Ontology loading (OBO with synonyms and xrefs, TSV, merging) and name matching in raw text."""
from __future__ import annotations

import pytest

from polarlab.errors import InputError
from polarlab.ontology import NameMatcher, load_ontology, normalize_name, read_obo, read_tsv

OBO = """format-version: 1.2
ontology: tiny

[Term]
id: DOID:1
name: Wilson disease
def: "A copper metabolism disease." [url:x]
synonym: "hepatolenticular degeneration" EXACT []
synonym: "WD" EXACT []
synonym: "copper storage disease" NARROW []
xref: MESH:D006527
xref: MIM:277900
is_a: DOID:0 ! disease

[Term]
id: DOID:2
name: breast cancer
synonym: "breast carcinoma" EXACT []
xref: MESH:D001943

[Term]
id: DOID:9
name: old term
is_obsolete: true
"""

TSV = ("id\tname\tsynonyms\tdescription\txref\n"
       "DOID:2\tmammary cancer\tcancer of the breast\t\tNCI:C4872\n"
       "DOID:3\tataxia telangiectasia\tLouis-Bar syndrome|AT\tA DNA repair disorder.\tMESH:D001260\n"
       "DOID:3\tataxia telangiectasia\t\t\tMIM:208900\n")


@pytest.fixture
def files(tmp_path):
    obo = tmp_path / "tiny.obo"
    obo.write_text(OBO, encoding="utf-8")
    tsv = tmp_path / "extra.tsv"
    tsv.write_text(TSV, encoding="utf-8")
    return obo, tsv


def test_obo_names_synonyms_xrefs_and_obsolete_terms(files):
    onto = read_obo(files[0])
    assert onto.ids == ["DOID:1", "DOID:2"]            # the obsolete term is skipped
    wd = onto.terms["DOID:1"]
    assert wd.name == "Wilson disease"
    assert wd.synonyms == ["hepatolenticular degeneration", "WD", "copper storage disease"]
    assert wd.definition == "A copper metabolism disease."
    assert wd.xrefs == {"MESH:D006527", "MIM:277900"}
    assert wd.parents == {"DOID:0"}


def test_obo_synonym_scopes_can_be_restricted(files):
    onto = read_obo(files[0], synonym_scopes=("EXACT",))
    assert "copper storage disease" not in onto.terms["DOID:1"].synonyms


def test_tsv_rows_merge_by_id(files):
    onto = read_tsv(files[1])
    at = onto.terms["DOID:3"]
    assert at.synonyms == ["Louis-Bar syndrome", "AT"]
    assert at.xrefs == {"MESH:D001260", "MIM:208900"}
    assert at.definition == "A DNA repair disorder."


def test_files_and_folders_merge_into_one_ontology(files, tmp_path):
    onto = load_ontology(list(files))
    assert len(onto) == 3
    bc = onto.terms["DOID:2"]
    assert bc.name == "breast cancer"                   # first file's name wins ...
    assert onto.names("DOID:2") == ["breast cancer", "breast carcinoma", "mammary cancer", "cancer of the breast"]
    assert bc.xrefs == {"MESH:D001943", "NCI:C4872"}    # ... the rest adds up
    assert len(load_ontology(tmp_path)) == 3             # a folder reads every .obo/.tsv in it
    assert onto.xref_index()["MESH:D001260"] == {"DOID:3"}
    index = onto.name_index()
    assert index[normalize_name("Breast Cancers")] == ["DOID:2"]
    assert onto.synonyms["DOID:3"] == ["Louis-Bar syndrome", "AT"]
    assert onto.xrefs["DOID:1"] == {"MESH:D006527", "MIM:277900"}


def test_normalize_name():
    assert normalize_name("Alzheimer's Diseases") == "alzheimer disease"
    assert normalize_name("Ataxia-telangiectasia") == "ataxia telangiectasia"
    assert normalize_name("cystic fibrosis") == "cystic fibrosis"   # 'is' is not a plural


def test_ontology_without_names_is_refused(tmp_path):
    tsv = tmp_path / "nonames.tsv"
    tsv.write_text("id\txref\nDOID:1\tMESH:D1\n", encoding="utf-8")
    with pytest.raises(InputError, match="no name column") as e:
        load_ontology(tsv)
    assert "nonames.tsv" in str(e.value) and "Fix" in str(e.value)
    obo = tmp_path / "noname.obo"
    obo.write_text("format-version: 1.2\n\n[Term]\nid: DOID:7\ndef: \"x\" []\n", encoding="utf-8")
    with pytest.raises(InputError, match="DOID:7 has no name"):
        load_ontology(obo)
    empty_name = tmp_path / "empty.tsv"
    empty_name.write_text("id\tname\nDOID:1\t\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_ontology(empty_name)
    assert str(e.value).startswith(f"file {empty_name}, line 2, column 'name': term DOID:1 has no name")


def test_obo_without_header_or_blank_lines_loads_quietly_and_right(tmp_path, caplog, capsys, recwarn):
    """No ``ontology:`` line (obonet logged a warning on the root logger), no header at all (and another), terms
    not separated by blank lines (the second [Term] was read as a line of the first, or of the header), a UTF-8
    byte-order mark: the same two terms, and nothing printed or logged."""
    import logging

    caplog.set_level(logging.DEBUG)
    root_handlers = list(logging.getLogger().handlers)
    terms = "[Term]\nid: X:1\nname: alpha\nsynonym: \"first\" EXACT []\n{}[Term]\nid: X:2\nname: beta\nis_a: X:1\n"
    variants = {"no_ontology_line": "format-version: 1.2\n\n" + terms.format("\n"),
                "no_header": terms.format("\n"),
                "no_blank_lines": "format-version: 1.2\n" + terms.format(""),
                "blank_lines_first": "\n\n" + terms.format(""),
                "bom": "\ufeff" + terms.format("\n"),
                "own_ontology_line": "format-version: 1.2\nontology: x\n\n" + terms.format("")}
    for name, text in variants.items():
        (tmp_path / f"{name}.obo").write_text(text, encoding="utf-8")
        onto = load_ontology(tmp_path / f"{name}.obo")
        assert onto.ids == ["X:1", "X:2"], name
        assert onto.names("X:1") == ["alpha", "first"] and onto.names("X:2") == ["beta"], name
        assert onto.term("X:2").parents == {"X:1"}, name
    assert not caplog.records and not recwarn.list
    assert capsys.readouterr() == ("", "")
    assert logging.getLogger().handlers == root_handlers      # obonet's logging.warning set up the root logger
    (tmp_path / "latin1.obo").write_bytes("[Term]\nid: X:1\nname: caf\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8") as e:
        load_ontology(tmp_path / "latin1.obo")
    assert "latin1.obo" in str(e.value) and "UTF-8" in e.value.fix


def test_missing_or_unknown_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load_ontology(tmp_path / "nope.obo")
    (tmp_path / "x.owl").write_text("", encoding="utf-8")
    with pytest.raises(InputError, match="unknown ontology format"):
        load_ontology(tmp_path / "x.owl")


def test_matcher_on_a_hand_made_text(files):
    m = NameMatcher(load_ontology(list(files)), min_length=2)
    text = ("Patients with Wilson disease (WD) and breast carcinoma; a breast cancer-like tumour. "
            "The wd allele, WDR repeats and ataxia-telangiectasia. Mammary cancers were rare.")
    found = [(x.text, x.ids) for x in m.find(text)]
    assert found == [("Wilson disease", ("DOID:1",)), ("WD", ("DOID:1",)),         # abbreviation: case kept
                     ("breast carcinoma", ("DOID:2",)), ("breast cancer", ("DOID:2",)),
                     ("ataxia-telangiectasia", ("DOID:3",))]                     # hyphen = space
    for x in m.find(text):
        assert text[x.start:x.end] == x.text


def test_matcher_prefers_the_longest_match(tmp_path):
    tsv = tmp_path / "o.tsv"
    tsv.write_text("id\tname\nA:1\tcancer\nA:2\tbreast cancer\nA:3\tcancer syndrome\n", encoding="utf-8")
    m = NameMatcher(load_ontology(tsv))
    assert [(x.text, x.ids) for x in m.find("breast cancer syndrome; breast cancer; cancer.")] == [
        ("cancer syndrome", ("A:3",)), ("breast cancer", ("A:2",)), ("cancer", ("A:1",))]
