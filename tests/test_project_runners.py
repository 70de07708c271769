"""``polarlab run`` hands task kinds with runners of their own to them (the project-runner registry)."""
from __future__ import annotations

from typer.testing import CliRunner

from polarlab.cli.main import app
from polarlab.project import peek_task_kind
from polarlab.tasks import PROJECT_RUNNERS, project_runner

#: the smallest project body (after ``[task] kind``) of each kind with a runner of its own: an ontology o.tsv and a
#: PubTator corpus c.txt beside it, a BEIR folder "."
RUNNER_PROJECTS = {"linking": '[ontology]\npaths = ["o.tsv"]\n[linking]\ncorpus = ["c.txt"]\n',
                   "relevance": '[data]\nbeir = "."\n',
                   "spans": '[data]\npath = "c.txt"\n[[sources]]\ntype = "regex"\nname = "r"\npattern = "Wilson"\n'}


def test_registry_and_peek(tmp_path):
    assert {"linking", "relevance"} <= set(PROJECT_RUNNERS)
    assert project_runner("text") is None and project_runner(None) is None
    assert callable(project_runner("relevance"))
    p = tmp_path / "p.toml"
    p.write_text('[task]\nkind = "relevance"\n')
    assert peek_task_kind(p) == "relevance"
    p.write_text("not = [toml")
    assert peek_task_kind(p) is None


def test_run_dispatches_relevance_and_its_errors_name_the_table(tmp_path):
    p = tmp_path / "polarlab.toml"
    p.write_text('[task]\nkind = "relevance"\n\n[data]\nbeir = "x"\n\n[labelmodel]\nmethods = ["mv"]\n')
    out = CliRunner().invoke(app, ["run", str(p)])
    assert out.exit_code == 2
    assert "labelmodel" in out.output and "relevance project" in out.output


def test_run_a_spans_project(tmp_path):
    import json

    docs = ("1|t|Wilson disease and cystic fibrosis.\n1|a|Patients with Wilson disease improved.\n"
            "1\t0\t14\tWilson disease\tDisease\tD1\n1\t19\t34\tcystic fibrosis\tDisease\tD2\n\n"
            "2|t|No finding here.\n2|a|Nothing.\n\n")
    (tmp_path / "docs.txt").write_text(docs)
    (tmp_path / "polarlab.toml").write_text(
        '[task]\nkind = "spans"\ntypes = ["Disease"]\n\n[data]\npath = "docs.txt"\n\n'
        '[[sources]]\ntype = "regex"\nname = "wilson"\npattern = "Wilson disease"\n\n'
        '[[sources]]\ntype = "regex"\nname = "fibrosis"\npattern = "\\\\w+ fibrosis"\n\n'
        '[harmonizer]\nfeatures = "shape"\n\n[output]\ndir = "out"\nspans = "spans.jsonl"\n')
    out = CliRunner().invoke(app, ["run", str(tmp_path / "polarlab.toml")])
    assert out.exit_code == 0, out.output
    lines = [json.loads(x) for x in (tmp_path / "out" / "spans.jsonl").read_text().splitlines() if x.strip()]
    assert len(lines) == 2 and (tmp_path / "out" / "metrics.json").exists()
    bad = tmp_path / "bad.toml"
    bad.write_text('[task]\nkind = "spans"\n[data]\npath = "docs.txt"\n[[sources]]\ntype = "regex"\nname = "x"\n'
                   'patern = "x"\n')
    out = CliRunner().invoke(app, ["run", str(bad)])
    assert out.exit_code == 2 and "patern" in out.output


def _table_rows(output: str, n_columns: int) -> dict[str, list[str]]:
    """A rich table's body rows in ``output``: first cell -> the other cells."""
    return {cells[0]: cells[1:] for ln in output.splitlines() if ln.count("│") == n_columns + 1
            for cells in [[c.strip() for c in ln.split("│")[1:-1]]]}


def test_polarlab_run_of_a_spans_project_prints_the_span_table_when_there_is_gold(tmp_path):
    """`polarlab run` on a spans project prints the table of `polarlab bench spans` (its numbers those of
    metrics.json) when the documents carry gold spans, and none (no metrics either) when they carry none."""
    import json

    annotations = "1\t0\t14\tWilson disease\tDisease\tD1\n1\t19\t34\tcystic fibrosis\tDisease\tD2\n"
    text = ("1|t|Wilson disease and cystic fibrosis.\n1|a|Patients with Wilson disease improved.\n{}\n"
            "2|t|No finding here.\n2|a|Nothing.\n\n")
    (tmp_path / "gold.txt").write_text(text.format(annotations))
    (tmp_path / "nogold.txt").write_text(text.format(""))
    project = ('[task]\nkind = "spans"\ntypes = ["Disease"]\n[data]\npath = "{}.txt"\n'
               '[[sources]]\ntype = "regex"\nname = "wilson"\npattern = "Wilson disease"\n'
               '[[sources]]\ntype = "regex"\nname = "fibrosis"\npattern = "\\\\w+ fibrosis"\n'
               '[harmonizer]\nfeatures = "shape"\n[output]\ndir = "out_{}"\n')
    for name in ("gold", "nogold"):
        (tmp_path / f"{name}.toml").write_text(project.format(name, name))

    res = CliRunner().invoke(app, ["run", str(tmp_path / "gold.toml")])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out_gold" / "metrics.json").read_text())
    assert metrics["n_docs"] == 2 and metrics["n_gold"] == annotations.count("\n")
    assert f"spans: {metrics['n_docs']} documents, {metrics['n_gold']} gold spans" in res.output
    rows = _table_rows(res.output, 7)
    assert set(rows) == set(metrics["labels"]) >= {"wilson", "fibrosis", "majority", "dawid_skene", "harmonized"}

    def fmt(v) -> str:
        return "-" if v is None else f"{v:.3f}"

    for name, m in metrics["labels"].items():
        risk = metrics["risk"].get(name, {})
        assert rows[name] == [fmt(m["exact"]["precision"]), fmt(m["exact"]["recall"]), fmt(m["exact"]["f1"]),
                              fmt(m["partial"]["f1"]), fmt(risk.get("ece")), fmt(risk.get("auroc"))], name
    assert rows["wilson"][4:] == ["-", "-"] and rows["harmonized"][4] != "-"    # a source has no risk
    out = " ".join(res.output.split())
    assert f"harmonizer: level = {metrics['harmonizer']['level']}," in out
    assert out.index("harmonizer: level") < out.index("wrote metrics")

    res = CliRunner().invoke(app, ["run", str(tmp_path / "nogold.toml")])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "out_nogold" / "metrics.json").exists()
    assert "exact F1" not in res.output and "gold spans" not in res.output and "harmonizer: level" not in res.output
    assert "wrote spans" in res.output and not _table_rows(res.output, 7)


def test_a_spans_projects_mistakes_each_get_one_line_naming_the_key_or_file(tmp_path):
    """A typo gets a did-you-mean and the key path (was: 'sources.0.patern: Extra inputs are not permitted. Fix: see
    the spans config docs'); an empty documents file is named (was: "column 'L': no rows to fit on"); a [task] types
    that no source's label is in is refused (was: a run that found nothing, silently)."""
    (tmp_path / "docs.txt").write_text("1|t|Wilson disease.\n1|a|Rare.\n1\t0\t14\tWilson disease\tDisease\tD1\n")
    (tmp_path / "empty.txt").write_text("")

    def error(data: str, types: str, source: str) -> str:
        p = tmp_path / "p.toml"
        p.write_text(f'[task]\nkind = "spans"\ntypes = {types}\n[data]\npath = "{data}"\n'
                     f'[[sources]]\ntype = "regex"\nname = "x"\n{source}\n[harmonizer]\nfeatures = "shape"\n')
        out = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "out")])
        assert out.exit_code == 2, out.output
        return " ".join(out.output.split())

    msg = error("docs.txt", '["Disease"]', 'patern = "Wilson"')
    assert "key 'sources[0].patern': unknown key 'patern'. Fix: did you mean 'pattern'?" in msg
    msg = error("empty.txt", '["Disease"]', 'pattern = "Wilson"')
    assert f"file {tmp_path / 'empty.txt'}: no documents" in msg
    msg = error("docs.txt", '["Disase"]', 'pattern = "Wilson"')
    assert "key 'sources[0].label'" in msg and "['Disase']" in msg and str(tmp_path / "p.toml") in msg
    msg = error("docs.txt", '["Disease"]', 'pattern = "(Wilson"')      # errors of a built source: its table's key
    assert "key 'sources[0].pattern': bad regular expression" in msg
    msg = error("docs.txt", '["Disease"]', 'label = "Disease"')
    assert "key 'sources[0].pattern': regex source 'x' needs a pattern" in msg


def test_a_mistyped_kind_lists_every_kind_and_a_missing_entity_column_names_the_key(tmp_path):
    """'relaton' / 'linkng': the kinds with runners of their own are kinds too (the list had only text and
    relation); a relation's missing entity column names entity_columns (the fix said entity_column = "...", no such
    key, and a --entity-column option predict does not have)."""
    (tmp_path / "d.csv").write_text("text,chem,gene\naspirin inhibits COX1,aspirin,COX1\n")
    p = tmp_path / "p.toml"
    for typo, meant in (("relaton", "relation"), ("linkng", "linking")):
        p.write_text(f'[task]\nkind = "{typo}"\nlabels = ["a", "b"]\n[data]\npath = "d.csv"\n'
                     '[[sources]]\ntype = "keyword"\nname = "k"\nkeywords = ["inhibits"]\nlabel = "a"\n')
        out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
        assert f"did you mean '{meant}'?" in out and "'linking', 'relation', 'relevance', 'spans', 'text'" in out
    p.write_text('[task]\nkind = "relation"\nlabels = ["a", "b"]\nentity_columns = ["chem", "gen"]\n[data]\n'
                 'path = "d.csv"\n[[sources]]\ntype = "keyword"\nname = "k"\nkeywords = ["inhibits"]\nlabel = "a"\n')
    res = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "out")])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "no entity column 'gen'" in out and 'entity_columns = ["...", "..."]' in out


def test_a_typo_in_project_is_refused_by_every_kind_with_a_runner(tmp_path):
    """[project] statedir = ... was ignored by the linking, relevance and spans projects (the state went to
    .polarlab without a word); it is an unknown key with a did-you-mean, as in a text project."""
    for kind, body in RUNNER_PROJECTS.items():
        p = tmp_path / f"{kind}.toml"
        p.write_text(f'[task]\nkind = "{kind}"\n{body}[project]\nstatedir = "s"\n')
        out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
        assert f"file {p}, key 'project.statedir': unknown key 'statedir'. Fix: did you mean 'state_dir'?" in out, kind


def test_a_typo_in_task_is_refused_by_every_kind_with_a_runner(tmp_path):
    """[task] nmae = ... (or typs in a spans project) was ignored by the linking and relevance projects (their
    [task] was read for its kind only) and refused without a suggestion by a spans project; now an unknown key with
    a did-you-mean, as in a text project; a spans [output] typo gets one too."""
    for kind, body in RUNNER_PROJECTS.items():
        p = tmp_path / f"{kind}.toml"
        p.write_text(f'[task]\nkind = "{kind}"\nnmae = "x"\n{body}')
        out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
        assert f"file {p}, key 'task.nmae': unknown key 'nmae'. Fix: did you mean 'name'?" in out, (kind, out)
    p = tmp_path / "spans.toml"
    p.write_text('[task]\nkind = "spans"\ntypess = ["Disease"]\n' + RUNNER_PROJECTS["spans"])
    out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
    assert "key 'task.typess': unknown key 'typess'. Fix: did you mean 'types'?" in out, out
    p.write_text('[task]\nkind = "spans"\n' + RUNNER_PROJECTS["spans"] + '[output]\nspan = "s.jsonl"\n')
    out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
    assert "key 'output.span': unknown key 'span'. Fix: did you mean 'spans'?" in out, out
    p.write_text('[task]\nkind = "spans"\n' + RUNNER_PROJECTS["spans"] + '[outptu]\ndir = "o"\n')
    out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
    assert "did you mean [output]?" in out, out


def test_types_are_strict_in_every_kind_as_docs_config_says(tmp_path):
    """docs/config.md: "Types are strict: "10" is not an integer". The linking, relevance and spans tables took
    "10" as 10 and "yes" as true; a file is now read as strictly as a text project's (an int is still a float)."""
    bodies = {"linking": '[ontology]\npaths = ["o.tsv"]\n[linking]\ncorpus = ["c.txt"]\ntop_k = "10"\n',
              "relevance": '[data]\nbeir = "."\n[relevance]\nbudget = "10"\nlr = 1\n',
              "spans": RUNNER_PROJECTS["spans"] + '[harmonizer]\nfolds = "3"\n'}
    keys = {"linking": "linking.top_k", "relevance": "relevance.budget", "spans": "harmonizer.folds"}
    for kind, body in bodies.items():
        p = tmp_path / f"{kind}.toml"
        p.write_text(f'[task]\nkind = "{kind}"\n{body}')
        out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
        assert f"file {p}, key '{keys[kind]}': " in out and "is not an integer" in out, (kind, out)
    p = tmp_path / "linking.toml"
    p.write_text('[task]\nkind = "linking"\n[ontology]\npaths = ["o.tsv"]\n[linking]\ncorpus = ["c.txt"]\n'
                 'expand_abbreviations = "yes"\n')
    out = " ".join(CliRunner().invoke(app, ["run", str(p)]).output.split())
    assert "key 'linking.expand_abbreviations': 'yes' is not true or false" in out, out


def test_an_unreachable_llm_server_is_named_under_its_source_table(tmp_path, dead_port):
    """A relation (or text) project's llm source with a wrong base_url: the key is the project's,
    sources[1].base_url (was a bare 'base_url' that did not say which source table)."""
    port = dead_port
    (tmp_path / "d.csv").write_text("text,chem,gene\naspirin inhibits COX1,aspirin,COX1\nx binds y,x,y\n")
    p = tmp_path / "p.toml"
    p.write_text('[task]\nkind = "relation"\nlabels = ["a", "b"]\nentity_columns = ["chem", "gene"]\n[data]\n'
                 'path = "d.csv"\n[[sources]]\ntype = "keyword"\nname = "k"\nkeywords = ["inhibits"]\nlabel = "a"\n'
                 f'[[sources]]\ntype = "llm"\nname = "llm"\nbackend = "openai"\nmodel = "m"\n'
                 f'base_url = "http://127.0.0.1:{port}/v1"\n[project]\nstate_dir = "st"\n')
    res = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "out")])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and f"file {p}, key 'sources[1].base_url': no OpenAI-compatible server" in out


def test_commands_for_the_label_task_say_what_to_do_with_another_kind(tmp_path):
    """`polarlab endmodel` (import, review...: the commands made for a label task's state; status, report and export
    read these kinds too, tests/test_job_outputs_*.py) on a linking, relevance or spans project: one line saying that
    the kind has a job of its own and how to run it (was: 'unknown section [ontology]' about a valid project)."""
    for kind, body in (("linking", '[ontology]\npaths = ["o.tsv"]\n[linking]\ncorpus = ["c.txt"]\n'),
                       ("relevance", '[data]\nbeir = "b"\n[relevance]\nbudget = 3\n'),
                       ("spans", '[task]\ntypes = ["Disease"]\n')):
        p = tmp_path / f"{kind}.toml"
        p.write_text(f'[task]\nkind = "{kind}"\n' + body.replace("[task]\n", ""))
        res = CliRunner().invoke(app, ["endmodel", str(p)])
        out = " ".join(res.output.split())
        assert res.exit_code == 2 and f'a [task] kind = "{kind}" project has a job of its own' in out, out
        assert f"polarlab run {p}" in out and "unknown section" not in out
        # a relevance project has no [output] table (it is refused there): its outputs are out/ beside the file
        assert ("[output]" not in out and "out/ beside the project file" in out) if kind == "relevance" \
            else "[output] dir" in out


def test_a_kind_that_is_not_a_string_is_a_config_error_not_a_traceback(tmp_path):
    """`kind = ["linking"]` (a list): load_project's check for kinds with a job of their own met it before the
    typed validation and stopped with 'TypeError: unhashable type: list'."""
    p = tmp_path / "p.toml"
    p.write_text('[task]\nkind = ["linking"]\nlabels = ["a", "b"]\n[data]\npath = "d.csv"\n'
                 '[[sources]]\ntype = "keywords"\nname = "k"\nkeywords = ["x"]\nlabel = "a"\n')
    (tmp_path / "d.csv").write_text("text\nx\n")
    res = CliRunner().invoke(app, ["status", str(p)])
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "task.kind" in out and "Traceback" not in out, out
    assert peek_task_kind(p) is None


def test_polarlab_run_of_a_spans_project_with_gold_on_some_documents_scores_those_only(tmp_path):
    """A JSONL spans project whose gold covers some documents (lines with "spans", one of them annotated with none)
    and not others (lines without the key, e.g. the unlabelled rest of a corpus): every document gets spans, the
    metrics and the report score the annotated documents only (no false positives counted on documents nobody
    annotated) and the report says how many were left out and why."""
    import json

    from polarlab.spans import span_scores
    from polarlab.spans.types import Span

    def line(i: int, text: str, gold: list[str] | None) -> str:
        rec = {"id": f"d{i}", "text": text}
        if gold is not None:
            rec["spans"] = [{"start": text.index(g), "end": text.index(g) + len(g), "label": "Disease"} for g in gold]
        return json.dumps(rec) + "\n"

    docs = [("Wilson disease and cystic fibrosis were seen.", ["Wilson disease", "cystic fibrosis"]),
            ("Patients with Wilson disease improved; no fibrosis.", ["Wilson disease"]),
            ("The ATP7B gene was sequenced.", []),
            ("Wilson disease in two brothers with lung fibrosis.", None),
            ("Cystic fibrosis and Wilson disease again.", None)]
    (tmp_path / "docs.jsonl").write_text("".join(line(i, t, g) for i, (t, g) in enumerate(docs)))
    (tmp_path / "p.toml").write_text(
        '[task]\nkind = "spans"\ntypes = ["Disease"]\n[data]\npath = "docs.jsonl"\nformat = "jsonl"\n'
        '[[sources]]\ntype = "regex"\nname = "wilson"\npattern = "Wilson disease"\n'
        '[[sources]]\ntype = "regex"\nname = "fibrosis"\npattern = "\\\\w+ fibrosis"\n'
        '[harmonizer]\nfeatures = "shape"\n[output]\ndir = "out"\n')
    res = CliRunner().invoke(app, ["run", str(tmp_path / "p.toml")], terminal_width=200)
    assert res.exit_code == 0, res.output
    rows = [json.loads(x) for x in (tmp_path / "out" / "spans.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(len(docs))]
    assert all(rows[i]["spans"] for i in (3, 4))           # unannotated documents are labelled all the same
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    annotated = [i for i, (_, g) in enumerate(docs) if g is not None]
    assert metrics["n_docs"] == len(annotated) and metrics["n_docs_without_gold"] == len(docs) - len(annotated)
    assert metrics["n_gold"] == sum(len(docs[i][1]) for i in annotated)
    gold = [[Span(s["start"], s["end"], s["label"]) for s in json.loads(line(i, *docs[i]))["spans"]] for i in annotated]
    harmonized = [[Span(s["start"], s["end"], s["label"]) for s in rows[i]["spans"]] for i in annotated]
    assert metrics["labels"]["harmonized"] == json.loads(json.dumps(span_scores(harmonized, gold)))
    assert f"spans: {len(annotated)} documents, {metrics['n_gold']} gold spans" in res.output
    out = " ".join(res.output.split())
    assert (f"{len(docs) - len(annotated)} of {len(docs)} documents have no gold (not annotated: JSONL lines without "
            "\"spans\", \"entities\" or annotations") in out and "and are not scored" in out
    assert out.index("not scored") < out.index("wrote metrics")


PUBTATOR_DOCS = [("Wilson disease and cystic fibrosis were seen.", ["Wilson disease", "cystic fibrosis"]),
                 ("Patients with Wilson disease improved; no fibrosis.", ["Wilson disease"]),
                 ("The ATP7B gene was sequenced.", []),                    # annotated: no disease in it
                 ("Wilson disease in two brothers with lung fibrosis.", None),   # nobody annotated these two
                 ("Cystic fibrosis and Wilson disease again.", None)]


def _pubtator_project(tmp_path, data_keys: str):
    lines = []
    for i, (text, gold) in enumerate(PUBTATOR_DOCS):
        lines += [f"{i}|t|{text}", f"{i}|a|Done."]
        lines += [f"{i}\t{text.index(g)}\t{text.index(g) + len(g)}\t{g}\tDisease\tD{i}" for g in gold or []]
        lines.append("")
    (tmp_path / "docs.txt").write_text("\n".join(lines) + "\n")
    (tmp_path / "p.toml").write_text(
        '[task]\nkind = "spans"\ntypes = ["Disease"]\n[data]\npath = "docs.txt"\n' + data_keys +
        '[[sources]]\ntype = "regex"\nname = "wilson"\npattern = "Wilson disease"\n'
        '[[sources]]\ntype = "regex"\nname = "fibrosis"\npattern = "\\\\w+ fibrosis"\n'
        '[harmonizer]\nfeatures = "shape"\n[output]\ndir = "out"\n')
    return CliRunner().invoke(app, ["run", str(tmp_path / "p.toml")], terminal_width=200)


def test_a_pubtator_spans_project_can_say_which_documents_are_annotated(tmp_path):
    """PubTator has no way to say "not annotated": a document without mention lines was read as annotated with no
    entity, so the spans found in the unannotated rest of a corpus counted as false positives. `[data]
    annotated_ids` lists the annotated documents (one may have no entity); `annotated = "with_mentions"` takes a
    document without any mention line as not annotated."""
    import json

    res = _pubtator_project(tmp_path, "")
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert metrics["n_docs"] == 5 and "n_docs_without_gold" not in metrics        # the default: every document
    everything = metrics["labels"]["harmonized"]

    (tmp_path / "annotated.txt").write_text("# annotated documents\n0\n1\n2\n")
    res = _pubtator_project(tmp_path, 'annotated_ids = "annotated.txt"\n')
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (metrics["n_docs"], metrics["n_docs_without_gold"], metrics["n_gold"]) == (3, 2, 3)
    scored = metrics["labels"]["harmonized"]
    assert scored["exact"]["precision"] > everything["exact"]["precision"]     # no false positives from docs 3, 4
    assert "2 of 5 documents have no gold" in " ".join(res.output.split())
    rows = [json.loads(x) for x in (tmp_path / "out" / "spans.jsonl").read_text().splitlines()]
    assert all(rows[i]["spans"] for i in (3, 4))                                  # still labelled

    res = _pubtator_project(tmp_path, 'annotated = "with_mentions"\n')
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "out" / "metrics.json").read_text())
    assert (metrics["n_docs"], metrics["n_docs_without_gold"]) == (2, 3)         # doc 2 has no mention line either


def test_a_pubtator_annotated_list_or_key_that_cannot_be_right_is_refused(tmp_path):
    (tmp_path / "annotated.txt").write_text("0\n17\n")
    res = _pubtator_project(tmp_path, 'annotated_ids = "annotated.txt"\n')
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "document id '17' is not in the corpus" in out and "annotated.txt" in out, out
    assert "line 2" in out and "Traceback" not in out
    res = _pubtator_project(tmp_path, 'annotated_ids = "annotated.txt"\nannotated = "with_mentions"\n')
    assert res.exit_code == 2 and "data.annotated" in res.output and "keep one of them" in res.output, res.output
    (tmp_path / "d.jsonl").write_text('{"id": "a", "text": "Wilson disease."}\n')
    (tmp_path / "j.toml").write_text('[task]\nkind = "spans"\n[data]\npath = "d.jsonl"\nformat = "jsonl"\n'
                                     'annotated = "with_mentions"\n[[sources]]\ntype = "regex"\nname = "w"\n'
                                     'pattern = "Wilson disease"\n')
    res = CliRunner().invoke(app, ["run", str(tmp_path / "j.toml")], terminal_width=200)
    out = " ".join(res.output.split())
    assert res.exit_code == 2 and "data.annotated" in out and "is for PubTator files" in out, out


def test_an_output_folder_that_is_a_file_stops_every_kind_before_its_work(tmp_path):
    """`polarlab run --out F` (F a file) of a spans, linking or relevance project, and `bench spans --out F`: one
    error naming the key, exit 2, before any slow work (was a FileExistsError traceback once the run had finished)."""
    (tmp_path / "taken").write_text("a file\n")
    (tmp_path / "c.txt").write_text("1|t|Wilson disease.\n1|a|Copper.\n1\t0\t14\tWilson disease\tDisease\tD1\n\n")
    (tmp_path / "o.tsv").write_text("id\tname\nD1\tWilson disease\n")
    for kind, body in RUNNER_PROJECTS.items():
        p = tmp_path / f"{kind}.toml"
        p.write_text(f'[task]\nkind = "{kind}"\n{body}')
        res = CliRunner().invoke(app, ["run", str(p), "--out", str(tmp_path / "taken")])
        out = " ".join(res.output.split())
        assert res.exit_code == 2 and f"{tmp_path / 'taken'} is a file, not a folder" in out, (kind, res.output)
    res = CliRunner().invoke(app, ["bench", "spans", str(tmp_path / "c.txt"), "--ontology", str(tmp_path),
                                   "--out", str(tmp_path / "taken" / "sub")])
    assert res.exit_code == 2 and "key '--out'" in res.output and "which is a file" in " ".join(res.output.split())


def test_a_misspelt_runner_kind_is_named_before_the_keys_it_would_have_allowed(tmp_path):
    """`kind = "span"` (for "spans") was reported as `task.types: unknown key`, sending the user after the wrong
    line; the kind decides which keys are valid, so it is checked first, with the kind it resembles."""
    p = tmp_path / "polarlab.toml"
    p.write_text('[task]\nkind = "span"\ntypes = ["Disease"]\n' + RUNNER_PROJECTS["spans"])
    out = CliRunner().invoke(app, ["run", str(p)])
    assert out.exit_code == 2
    assert "task.kind" in out.output and "unknown task kind 'span'" in out.output
    assert "did you mean 'spans'" in out.output and "types" not in out.output.split("Fix:")[0]


def test_a_spans_file_with_an_extension_no_writer_has_is_refused_before_the_run(tmp_path):
    """`spans = "spans.csv"` was written as PubTator text under a CSV name, after the whole run."""
    (tmp_path / "c.txt").write_text("1|t|Wilson disease.\n1|a|Nothing.\n\n")
    p = tmp_path / "polarlab.toml"
    p.write_text('[task]\nkind = "spans"\n' + RUNNER_PROJECTS["spans"] + '[output]\nspans = "spans.csv"\n')
    out = CliRunner().invoke(app, ["run", str(p)])
    assert out.exit_code == 2
    assert "output.spans" in out.output and ".jsonl" in out.output and "spans.csv" in out.output
    assert not (tmp_path / "out").exists()


def test_link_takes_the_options_run_takes(tmp_path):
    """`polarlab link P --no-progress` stopped with 'No such option' where `polarlab run P --no-progress` ran."""
    p = tmp_path / "p.toml"
    p.write_text('[task]\nkind = "linking"\n' + RUNNER_PROJECTS["linking"] + '[output]\nlabels = "l.xlsx"\n')
    for cmd in ("run", "link"):
        out = CliRunner().invoke(app, [cmd, str(p), "--no-progress"])
        assert out.exit_code == 2 and "output.labels" in out.output, (cmd, out.output)
