"""Inputs a held-out corpus brings (BC5CDR-style PubTator, other ontologies): relation lines, composite ids,
``-1``, ids with and without ``MESH:``, ``OMIM:``, mixed entity types, Windows line endings, a document
without mentions, ``|`` in a title; OBO files in HPO's and MeSH's styles."""
from __future__ import annotations

import json

import numpy as np
import pytest

from polarlab.data.pubtator import NO_ID, keep_types, mention_types, read_pubtator
from polarlab.errors import ConfigError, InputError
from polarlab.linking.evaluate import hits_at, link_accuracy, map_gold
from polarlab.linking.linkers import Ranking
from polarlab.linking.mentions import MentionSet
from polarlab.ontology import canonical_xref, load_ontology

# a disease ontology whose xrefs come in three styles: MESH: (DO), MSH: (HPO), OMIM: (Mondo)
OBO = """format-version: 1.2

[Term]
id: DOID:1
name: Wilson disease
xref: MESH:D006527

[Term]
id: DOID:2
name: hypotension
synonym: "low blood pressure" EXACT []
xref: MSH:D007022

[Term]
id: DOID:3
name: cystic fibrosis
xref: OMIM:219700

[Term]
id: DOID:4
name: breast cancer
xref: MESH:D001943

[Term]
id: DOID:5
name: colon cancer
xref: MESH:D015179
is_a: DOID:99 ! a parent outside this file
"""

TITLE = "Clonidine | naloxone and hypotension in Wilson disease."
ABSTRACT = "Breast and colon cancer, cystic fibrosis and an unnamed syndrome."


def _line(pmid: str, surface: str, type_: str, ids: str, *extra: str, start_at: int = 0) -> str:
    text = f"{TITLE} {ABSTRACT}"
    s = text.index(surface, start_at)
    return "\t".join([pmid, str(s), str(s + len(surface)), surface, type_, ids, *extra])


def bc5cdr_text() -> str:
    """Two documents, BC5CDR-style, with Windows line endings and a byte-order mark."""
    lines = [f"100|t|{TITLE}", f"100|a|{ABSTRACT}",
             _line("100", "Clonidine", "Chemical", "D003000"),
             _line("100", "hypotension", "Disease", "MESH:D007022"),
             "100\tCID\tD003000\tD007022",                                   # a relation line between mentions
             _line("100", "Wilson disease", "Disease", "D006527"),
             _line("100", "Breast and colon cancer", "Disease", "D001943|D015179", "Breast cancer|colon cancer"),
             _line("100", "cystic fibrosis", "Disease", "OMIM:219700"),
             _line("100", "unnamed syndrome", "Disease", "-1"),
             "100\tCID\tD003000\tD006527",
             "",
             "200|t|A document without mentions.", "200|a|Nothing to link | here.", ""]
    return "\ufeff" + "\r\n".join(lines) + "\r\n"


@pytest.fixture
def folder(tmp_path):
    (tmp_path / "onto").mkdir()
    (tmp_path / "onto" / "do.obo").write_text(OBO, encoding="utf-8")
    (tmp_path / "corpus").mkdir()
    (tmp_path / "corpus" / "CDR_TestSet.PubTator.txt").write_bytes(bc5cdr_text().encode("utf-8"))
    train = ["300|t|Wilson disease and low blood pressure.", "300|a|Cystic fibrosis, breast cancer, colon cancer.",
             "300\tCID\tD1\tD2", "", "301|t|Hypotension after clonidine in colon cancer.", ""]
    (tmp_path / "corpus" / "CDR_TrainingSet.PubTator.txt").write_bytes("\r\n".join(train).encode("utf-8"))
    (tmp_path / "corpus" / "README.txt").write_text("About this corpus.\n", encoding="utf-8")   # not text to read
    return tmp_path


def test_bc5cdr_style_pubtator_is_read(folder):
    docs = read_pubtator(folder / "corpus" / "CDR_TestSet.PubTator.txt")
    assert [d.id for d in docs] == ["100", "200"]                      # the byte-order mark is not in the id
    assert docs[0].title == TITLE and "\r" not in docs[0].abstract       # '|' in a title, CRLF read
    assert docs[1].mentions == [] and docs[1].abstract == "Nothing to link | here."
    ms = docs[0].mentions
    assert len(ms) == 6                                                 # the relation lines are skipped
    assert [m.ids for m in ms] == [("D003000",), ("MESH:D007022",), ("D006527",), ("D001943", "D015179"),
                                   ("OMIM:219700",), (NO_ID,)]
    assert mention_types(docs) == {"Disease": 5, "Chemical": 1}


def test_gold_ids_in_every_prefix_style_map_through_the_xrefs(folder):
    onto = load_ontology(folder / "onto")
    assert onto.terms["DOID:5"].parents == {"DOID:99"}                  # is_a to a term outside the file
    docs = read_pubtator(folder / "corpus" / "CDR_TestSet.PubTator.txt")
    gold = map_gold(MentionSet.from_documents(docs).gold, onto)
    ids = onto.ids
    assert [sorted(ids[e] for e in s) for s in gold.entities] == [
        [], ["DOID:2"], ["DOID:1"], ["DOID:4", "DOID:5"], ["DOID:3"], []]
    assert gold.has_gold.tolist() == [True] * 6                         # -1 is gold: a mention without a concept
    assert gold.mappable.tolist() == [False, True, True, True, True, False]
    # the same concept written five ways, and the ontology's MSH:/OMIM: xrefs
    same = map_gold([("MESH:D006527",), ("mesh:D006527",), ("D006527",), ("MSH:D006527",), ("DOID:1",),
                     ("OMIM:219700",), ("MIM:219700",)], onto)
    assert [sorted(ids[e] for e in s) for s in same.entities] == [["DOID:1"]] * 5 + [["DOID:3"]] * 2
    assert canonical_xref(" msh:D1 ") == "MESH:D1" and canonical_xref("OMIM:1") == "MIM:1"


def test_a_composite_mention_is_right_when_linked_to_any_of_its_concepts(folder):
    onto = load_ontology(folder / "onto")
    gold = map_gold([("D001943", "D015179"), ("D001943", "D015179"), ("-1",), ("D006527",)], onto)
    pos = {t: e for e, t in enumerate(onto.ids)}
    top = np.array([[pos["DOID:5"]], [pos["DOID:1"]], [pos["DOID:1"]], [pos["DOID:1"]]])
    r = Ranking(top, np.zeros(top.shape))
    assert hits_at(r, gold, 1).tolist() == [True, False, False, True]   # -1: no link is right
    acc = link_accuracy(r, gold)
    assert (acc["n_mappable"], acc["n_all"]) == (3, 4)
    assert acc["acc1_mappable"] == pytest.approx(2 / 3) and acc["acc1_all"] == pytest.approx(2 / 4)


def test_entity_types_keep_some_mentions_and_a_wrong_type_is_named(folder):
    docs = read_pubtator(folder / "corpus" / "CDR_TestSet.PubTator.txt")
    kept = keep_types(docs, ["disease"])
    assert [m.type for d in kept for m in d.mentions] == ["Disease"] * 5 and len(docs[0].mentions) == 6
    assert keep_types(docs, []) == docs
    with pytest.raises(InputError, match=r"no mention of type \['Gene'\].*'Chemical', 'Disease'") as e:
        keep_types(docs, ["Gene"], "CDR_TestSet.PubTator.txt")
    assert "entity_types" in str(e.value) and "CDR_TestSet" in str(e.value)
    with pytest.raises(InputError, match=r"no mention of type \['Gene'\]"):   # was: Gene silently dropped
        keep_types(docs, ["Disease", "Gene"])


def test_a_corpus_without_mentions_is_refused_with_the_fix(folder):
    docs = read_pubtator(folder / "corpus" / "CDR_TestSet.PubTator.txt")[1:]     # the document without mentions
    with pytest.raises(InputError, match="no mentions to link in 1 document") as e:
        MentionSet.from_documents(docs)
    assert 'mentions = "match"' in str(e.value)


def test_bad_pubtator_lines_name_the_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("1|t|Wilson disease.\n1\tx\t5\tWilson\tDisease\tD006527\n", encoding="utf-8")
    with pytest.raises(InputError, match="line 2.*not integers"):
        read_pubtator(bad)
    bad.write_bytes(b"1|t|Caf\xe9 disease.\n")                            # cp1252, not UTF-8
    with pytest.raises(InputError, match="not UTF-8") as e:
        read_pubtator(bad)
    assert "bad.txt" in str(e.value) and "iconv" in str(e.value)


def test_a_bad_gold_id_names_the_file_and_line_of_its_mention(tmp_path):
    """As the README says: an unknown gold id is named with the PubTator file and the mention's line (it was
    'row document 1, span 0-6, column 'gold'', no file)."""
    from polarlab.linking.config import linking_project_from_dict
    from polarlab.linking.run import run_linking

    (tmp_path / "onto.obo").write_text(OBO, encoding="utf-8")
    corpus = tmp_path / "c.txt"
    corpus.write_text("1|t|Wilson disease.\n1|a|And hypotension.\n1\t0\t14\tWilson disease\tDisease\tD006527\n"
                      "1\t20\t31\thypotension\tDisease\tFOO:1\n", encoding="utf-8")
    proj = linking_project_from_dict({"ontology": {"paths": ["onto.obo"]}, "linking": {"corpus": ["c.txt"]}})
    with pytest.raises(InputError) as e:
        run_linking(proj, base_dir=tmp_path)
    assert str(e.value).startswith(f"file {corpus}, line 4: unknown gold id 'FOO:1'. Fix:")
    corpus.write_text(corpus.read_text(encoding="utf-8").replace("FOO:1", "DOID:77"), encoding="utf-8")
    with pytest.raises(InputError) as e:
        run_linking(proj, base_dir=tmp_path)
    assert str(e.value).startswith(f"file {corpus}, line 4: gold id 'DOID:77' is not a term of the ontology")


def test_bench_and_link_handle_a_bc5cdr_style_corpus(folder):
    """The real bench and project runner (name linkers only: no model to load) on the mixed corpus."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app
    from polarlab.linking.bench import bench_linking

    opts = {"linkers": ["exact", "sparse"], "calibration": {"pseudo_dev": 0}}
    res = bench_linking(folder / "corpus", folder / "onto", state_dir=None, ablations=False,
                        options={**opts, "entity_types": ["Disease"]})
    assert (res["n_mentions"], res["n_mappable"]) == (5, 4)                  # the Chemical is left out
    assert res["mention_types"] == {"Disease": 5, "Chemical": 1} and res["entity_types"] == ["Disease"]
    assert res["n_unlabelled_docs"] == 2                                     # the training file's, not the README
    assert res["linkers"]["exact"]["n_all"] == 5                             # -1 counts among all mentions
    every = bench_linking(folder / "corpus", folder / "onto", state_dir=None, ablations=False, options=opts)
    assert (every["n_mentions"], every["n_mappable"]) == (6, 4)
    proj = folder / "link.toml"
    proj.write_text('[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\n'
                    'corpus = ["corpus/CDR_TestSet.PubTator.txt"]\nunlabelled = ["corpus/CDR_TrainingSet.PubTator.txt"]\n'
                    'entity_types = ["Disease"]\nlinkers = ["exact", "sparse"]\n[linking.calibration]\npseudo_dev = 0\n'
                    '[output]\ndir = "out"\n', encoding="utf-8")
    out = CliRunner().invoke(app, ["link", str(proj)])
    assert out.exit_code == 0, out.output
    metrics = json.loads((folder / "out" / "metrics.json").read_text())
    assert metrics["n_mentions"] == 5 and metrics["mention_types"] == {"Disease": 5, "Chemical": 1}
    assert metrics["linkers"]["exact"]["n_mappable"] == 4
    proj.write_text(proj.read_text().replace('["Disease"]', '["Gene"]'), encoding="utf-8")
    out = CliRunner().invoke(app, ["link", str(proj)])
    assert out.exit_code != 0 and "entity_types" in out.output



def test_a_wrong_entity_type_is_refused_before_the_run_starts(folder):
    """[linking] entity_types = ["Gene"] in a project run: one ConfigError from the checks before the run, naming
    the project file, the key, the corpus file and its types; no run is recorded (the runs table stays empty), no
    output written. `polarlab link` (no run records) refuses it the same way, before it loads the ontology."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app
    from polarlab.jobs.status import read_runs

    proj = folder / "link.toml"
    proj.write_text('[task]\nkind = "linking"\n[ontology]\npaths = ["onto"]\n[linking]\n'
                    'corpus = ["corpus/CDR_TestSet.PubTator.txt"]\nentity_types = ["Disease", "Gene"]\n'
                    'linkers = ["exact"]\n[linking.calibration]\npseudo_dev = 0\n[project]\nstate_dir = "st"\n'
                    '[output]\ndir = "out"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(proj)], terminal_width=400)
    err = " ".join(res.output.split())
    assert res.exit_code == 2 and "key 'linking.entity_types'" in err and "['Chemical', 'Disease']" in err, err
    assert f"file {proj}" in err and "CDR_TestSet.PubTator.txt" in err and "['Gene']" in err
    assert read_runs(folder / "st") == [] and not (folder / "out").exists()
    from polarlab.linking.config import load_linking_project
    from polarlab.linking.run import preflight

    (folder / "onto" / "do.obo").unlink()           # the ontology is never read: the type error comes first
    with pytest.raises(ConfigError, match=r"no mention of type \['Gene'\]") as e:
        preflight(load_linking_project(proj), folder, proj)
    assert (e.value.file, e.value.column) == (str(proj), "linking.entity_types")
    res = CliRunner().invoke(app, ["link", str(proj)])
    assert res.exit_code != 0 and "linking.entity_types" in res.output and "Chemical" in res.output

def test_obo_files_in_other_styles_load(tmp_path):
    """HPO-style (MSH:/UMLS: xrefs, is_a to a missing parent, an obsolete term, a Typedef) and MeSH-style
    (the ontology's ids are MeSH ids) OBO files; a term without a name is refused, naming it."""
    hp = tmp_path / "hp.obo"
    hp.write_text('format-version: 1.2\n\n[Term]\nid: HP:0001250\nname: Seizure\n'
                  'synonym: "Epileptic seizure" EXACT layperson []\nxref: MSH:D012640\nxref: UMLS:C0036572\n'
                  'is_a: HP:9999999 ! not in the file\n\n[Term]\nid: HP:0000002\nname: old\nis_obsolete: true\n\n'
                  '[Typedef]\nid: part_of\nname: part of\n', encoding="utf-8")
    onto = load_ontology(hp)
    assert onto.ids == ["HP:0001250"] and onto.names("HP:0001250") == ["Seizure", "Epileptic seizure"]
    assert onto.xref_index()["MESH:D012640"] == {"HP:0001250"}
    g = map_gold([("D012640",), ("MESH:D012640",), ("D000001",)], onto)
    assert [sorted(onto.ids[e] for e in s) for s in g.entities] == [["HP:0001250"], ["HP:0001250"], []]
    mesh = tmp_path / "mesh.tsv"
    mesh.write_text("id\tname\tsynonyms\nMESH:D012640\tSeizures\tConvulsions\n", encoding="utf-8")
    onto = load_ontology(mesh)
    g = map_gold([("D012640",), ("MESH:D012640",)], onto)
    assert [sorted(onto.ids[e] for e in s) for s in g.entities] == [["MESH:D012640"]] * 2
    with pytest.raises(InputError, match="'MESH:D999999' is not a term"):
        map_gold([("MESH:D999999",)], onto)
    nameless = tmp_path / "nameless.obo"
    nameless.write_text("format-version: 1.2\n\n[Term]\nid: HP:1\nxref: MSH:D1\n", encoding="utf-8")
    with pytest.raises(InputError, match="term HP:1 has no name") as e:
        load_ontology(nameless)
    assert "nameless.obo" in str(e.value)


@pytest.mark.slow
def test_bench_linking_cli_takes_entity_types(folder, tmp_path):
    """``polarlab bench linking --entity-type`` with the real default linkers (a tiny contrastive fit)."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    args = ["bench", "linking", "--corpus", str(folder / "corpus"), "--ontology", str(folder / "onto"),
            "--state-dir", str(tmp_path / "st"), "--no-ablations"]
    res = CliRunner().invoke(app, args + ["--entity-type", "Disease"])
    assert res.exit_code == 0, res.output
    last = json.loads(res.output.strip().splitlines()[-1])
    assert (last["n_mentions"], last["n_mappable"], last["entity_types"]) == (5, 4, ["Disease"])
    assert set(last["linkers"]) == {"exact", "sparse", "names_dense", "kriss"}
    res = CliRunner().invoke(app, args + ["--entity-type", "Gene"])
    assert res.exit_code != 0 and "Chemical" in res.output and "entity_types" in res.output
