"""Issue 11, configuration half: every silently-wrong key, every traceback, every late check is one clear
error (exit 2) naming the file and the key, raised before any stage ran (no LLM call, no fit, no output)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polarlab.cli import main as cli
from polarlab.config import SECTIONS
from polarlab.sources.registry import SOURCE_TYPES

from test_project import make_project

runner = CliRunner()

LLM = '\n[[sources]]\ntype = "llm"\nname = "gemma"\n'


def invoke(*args: str):
    return runner.invoke(cli.app, list(args))


def assert_refused(r, *needles: str) -> None:
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output
    err = " ".join(r.stderr.split())
    for n in needles:
        assert n in err, (n, err)


def nothing_ran(tmp: Path) -> None:
    """No stage ran: no state database (so no LLM call, no fit), no output folder."""
    assert not (tmp / ".polarlab" / "state.sqlite").exists()
    assert not (tmp / "out").exists()


def edit(p: Path, old: str, new: str) -> None:
    text = p.read_text()
    assert old in text, old
    p.write_text(text.replace(old, new))


# (what to replace, with what, expected key path, a word of the fix)
CASES = [
    ('methods = ["mv"]', 'method = ["mv"]', "labelmodel.method", "did you mean 'methods'"),
    ('labels = "labels.csv"', 'label = "x.jsonl"', "output.label", "did you mean 'labels'"),
    ("[output]", '[project]\nstatedir = "s"\n[output]', "project.statedir", "did you mean 'state_dir'"),
    ('methods = ["mv"]', 'methods = "mv"', "labelmodel.methods", 'methods = ["mv"]'),
    ('name = "tiny"', 'name = "tiny"\nkind = "relations"', "task.kind", "relation"),
    ('labels = ["ham", "spam"]', 'labels = "ham,spam"', "task.labels", 'labels = ["ham", "spam"]'),
    ("[data]", '[data]\nlimit = -5', "data.limit", ">= 1"),
    ("[data]", '[data]\nlimit = "ten"', "data.limit", "an integer"),
    ("[data]", '[data]\nfit_split = "training"', "data.fit_split", "'train', 'test'"),
    ("[data]", '[data]\neval_split = "dev"', "data.eval_split", "'train', 'test'"),
    ('train = "train.csv"', "train = 5", "data.splits.train", "a string or a list"),
    ('train = "train.csv"', "train = []", "data", "lists no files"),
    ('dir = "out"', "dir = 5", "output.dir", "a string"),
    ('labels = "labels.csv"', 'labels = "labels.txt"', "output.labels", ".jsonl"),
    ('final = "mv"', 'final = "mv"\n[harmonizer]\nscalarisation = "max"', "harmonizer.scalarisation",
     "did you mean 'scalarization'"),
    ('final = "mv"', 'final = "mv"\n[harmonizer]\nscalarization = "maximum"', "harmonizer.scalarization", "'max'"),
    ('methods = ["mv"]', 'methods = ["mv", "snorkle"]', "labelmodel.methods", "'polar'"),
    # a word or a list: the words are named, with the one meant (was "one of the allowed words", none named)
    ('final = "mv"', 'final = "mv"\n[harmonizer]\nweights = "equall"', "harmonizer.weights",
     "did you mean 'equal'? give one of 'equal', 'max_eigen' or 'min_var' or a list"),
    ('final = "mv"', 'final = "mv"\n[harmonizer]\nnum_threads = "autoo"', "harmonizer.num_threads",
     "did you mean 'auto'?"),
    # a label model's setting is named under [labelmodel] options (was key 'label_model' / a bare 'tie_break')
    ('final = "mv"', 'final = "mv"\noptions = {mv = {tie_brake = "random"}}', "labelmodel.options.mv.tie_brake",
     "did you mean 'tie_break'?"),
    ('final = "mv"', 'final = "mv"\noptions = {mv = {tie_break = "randm"}}', "labelmodel.options.mv.tie_break",
     "'random'"),
    # a key this kind of [data] never reads is refused (split_column with [data.splits] was silently ignored)
    ("[data]", '[data]\nsplit_column = "part"', "data.split_column", "not read with splits"),
    # an unknown candidate is named under its own key (was harmonizer.combine)
    ('methods = ["mv"]\nfinal = "mv"',
     'methods = ["mv", "polar"]\nfinal = "mv"\n[harmonizer]\ncombine_candidates = ["mv", "foo:1"]',
     "harmonizer.combine_candidates", "unknown combination 'foo:1'"),
    ('final = "mv"', 'final = "polar"', "labelmodel.final", "among methods"),
    ('label = "spam"', 'label = "spam"\nkeywords_ = 1', "sources[0].keywords_", "did you mean 'keywords'"),
    ('type = "regex"', 'type = "regexp"', "sources[1].type", "did you mean 'regex'"),
    # a misspelt required key is named as the unknown key it is (not only "keywords is missing")
    ('keywords = ["check out"]', 'keyword = ["check out"]', "sources[0].keyword", "did you mean 'keywords'"),
    # a source file that is not there: found before any source (an LLM listed first included) runs
    ('file = "lfs.py"', 'file = "my_lfs.py"', "sources[3].file", "project file's folder"),
    # a label the task does not have: found when the file is read, not when the source is applied
    ('keywords = ["check out"]\nlabel = "spam"', 'keywords = ["check out"]\nlabel = "spma"', "sources[0].label",
     "did you mean 'spam'"),
    # the encoder's device is a word torch reads (any string was accepted, and failed in the features stage)
    ('final = "mv"', 'final = "mv"\n[harmonizer]\ndevice = "gpu"', "harmonizer.device",
     "did you mean 'cuda'? use one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'"),
    ('final = "mv"', 'final = "mv"\n[harmonizer]\ndevice = "cuda:x"', "harmonizer.device", "'cuda:N'"),
    ('final = "mv"', 'final = "mv"\n[harmonizer]\ndevice = "CPU"', "harmonizer.device", "did you mean 'cpu'"),
]


@pytest.mark.parametrize("old,new,key,fix", CASES, ids=[c[2] + ":" + c[1][:18] for c in CASES])
def test_bad_config_is_refused_before_any_stage(tmp_path: Path, old: str, new: str, key: str, fix: str) -> None:
    p = make_project(tmp_path)
    edit(p, old, new)
    r = invoke("run", str(p), "--no-progress")
    assert_refused(r, str(p), f"key '{key}'", fix)
    if key not in ("data.fit_split", "data.eval_split"):      # these need the data's split names
        nothing_ran(tmp_path)
    else:
        assert not (tmp_path / "out").exists()


def test_a_device_this_torch_lacks_stops_the_run_before_any_stage(tmp_path: Path) -> None:
    """device = "cuda" (or "mps") where torch has none: one error naming the file, the key and the fix, before the
    data, the sources or the LLM ran (it was an AssertionError from torch in the features stage)."""
    import torch

    missing = [d for d, there in (("cuda", torch.cuda.is_available()), ("mps", torch.backends.mps.is_available()),
                                  (f"cuda:{torch.cuda.device_count()}", False)) if not there]
    for i, device in enumerate(missing):
        (tmp_path / str(i)).mkdir()
        p = make_project(tmp_path / str(i))
        edit(p, 'methods = ["mv"]\nfinal = "mv"', f'methods = ["mv", "polar"]\nfinal = "mv"\n[harmonizer]\ndevice = "{device}"')
        assert_refused(invoke("run", str(p), "--no-progress"), str(p), "key 'harmonizer.device'", repr(device),
                       "use device = ")
        nothing_ran(tmp_path / str(i))


def test_wrench_data_refuses_the_column_keys_it_never_reads() -> None:
    """[data] wrench = DIR with text_column / label_column / ...: the WRENCH loader reads its own JSON fields, so
    these were accepted and silently ignored (a misspelt gold column never warned)."""
    from polarlab.config import validate_tables
    from polarlab.errors import ConfigError

    source = [{"type": "wrench"}]
    validate_tables({"data": {"wrench": "w", "limit": 5}, "sources": source}, "p.toml")
    for key, value in (("text_column", "body"), ("label_column", "gold"), ("split_column", "part"),
                       ("entity_columns", ["a", "b"])):
        with pytest.raises(ConfigError) as e:
            validate_tables({"data": {"wrench": "w", key: value}, "sources": source}, "p.toml")
        assert e.value.column == f"data.{key}" and "not read with wrench" in str(e.value)


@pytest.mark.parametrize("column,fix", [
    ("authr", "did you mean 'author'"),
    ("body", 'write column = "text"'),          # the [data] text_column: read into the column "text"
    ("gold", "never see gold"),                # the [data] label_column: hidden from every source
])
def test_a_source_column_that_is_not_there_is_refused_before_any_source_runs(tmp_path: Path, column: str,
                                                                           fix: str) -> None:
    """A ``column`` a rule reads is checked against the data before the first table is applied (an LLM listed
    first would otherwise answer every row first), and the message names the key, not the data files."""
    from polarlab.state import ProjectState

    p = make_project(tmp_path)
    edit(p, 'name = "rx_link"', f'name = "rx_link"\ncolumn = "{column}"')
    r = invoke("run", str(p), "--no-progress")
    assert_refused(r, str(p), "key 'sources[1].column'", "source 'rx_link'", f"no column '{column}'", fix)
    assert "train.csv" not in r.stderr
    state = ProjectState(tmp_path / ".polarlab", readonly=True)
    assert state.sources("train") == []        # kw_check (sources[0]) was not applied either
    state.close()
    assert not (tmp_path / "out").exists()


def test_correct_without_polar_is_an_error(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    edit(p, '[labelmodel]', LLM + '[labelmodel]')
    r = invoke("correct", str(p), "--no-progress")
    assert_refused(r, str(p), "key 'labelmodel.methods'", '"polar" is not among the methods')
    nothing_ran(tmp_path)


@pytest.mark.parametrize("args,key,fix", [
    (["--budget", "-1"], "correct.budget", ">= 0"),
    (["--threshold", "5"], "correct.threshold", "<= 1"),
    (["--strategy", "fewshoot"], "correct.strategy", "fewshot"),
])
def test_bad_correct_options_are_refused_before_any_stage(tmp_path: Path, args, key, fix) -> None:
    p = make_project(tmp_path)
    edit(p, '[labelmodel]', LLM + '[labelmodel]')
    edit(p, 'methods = ["mv"]', 'methods = ["mv", "polar"]')
    r = invoke("correct", str(p), "--no-progress", *args)
    assert_refused(r, str(p), f"key '{key}'", fix)
    nothing_ran(tmp_path)


def test_correct_needs_an_llm_source(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    edit(p, 'methods = ["mv"]', 'methods = ["mv", "polar"]')
    r = invoke("correct", str(p), "--no-progress")
    assert_refused(r, str(p), "key 'correct'", 'type = "llm"')
    nothing_ran(tmp_path)


def test_a_folder_instead_of_a_project_file(tmp_path: Path) -> None:
    make_project(tmp_path)
    assert_refused(invoke("run", str(tmp_path)), str(tmp_path), "is a folder", "polarlab.toml")


def test_out_naming_an_existing_file(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    f = tmp_path / "taken.txt"
    f.write_text("mine")
    assert_refused(invoke("run", str(p), "--out", str(f), "--no-progress"), str(p), "key 'output.dir'", "is a file")
    assert f.read_text() == "mine" and not (tmp_path / ".polarlab" / "state.sqlite").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
@pytest.mark.parametrize("key", ["output.dir", "project.state_dir"])
def test_unwritable_folders_are_found_before_the_run(tmp_path: Path, key: str) -> None:  # pragma: no cover
    p = make_project(tmp_path)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    section, name = key.split(".")
    edit(p, "[output]", f'[project]\nstate_dir = "{locked / "s" if section == "project" else ".polarlab"}"\n[output]')
    if section == "output":
        edit(p, 'dir = "out"', f'dir = "{locked / "out"}"')
    assert_refused(invoke("run", str(p), "--no-progress"), str(p), f"key '{key}'", "cannot write")


def test_state_folder_that_is_a_file(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    (tmp_path / "st").write_text("x")
    edit(p, "[output]", '[project]\nstate_dir = "st"\n[output]')
    assert_refused(invoke("run", str(p), "--no-progress"), str(p), "key 'project.state_dir'", "is a file")
    assert not (tmp_path / "out").exists()


def test_help_texts() -> None:
    for cmd in ("run", "correct"):
        text = " ".join(invoke(cmd, "--help").stdout.replace("│", " ").split())
        assert "the project's [output] dir" in text
        assert "log why each stage runs or is skipped" in text


@pytest.mark.parametrize("limit", ["0", "-3"])
def test_bench_limit_must_be_positive(limit: str) -> None:
    r = invoke("bench", "wrench", "nowhere", "--limit", limit)
    assert r.exit_code == 2 and "--limit" in r.output and "Traceback" not in r.output


# every table: an unknown key and a wrong type are refused with the key path
TABLE_SAMPLES = {  # a valid key and a wrong-typed value for it
    "task": ("name", 5), "data": ("text_column", 5), "labelmodel": ("methods", "mv"),
    "harmonizer": ("epochs", "ten"), "correct": ("budget", "ten"), "output": ("dir", 5),
    "project": ("state_dir", ["x"]), "engine": ("partition_rows", "many"),
}
SOURCE_SAMPLES = {"keyword": {"name": "k", "keywords": ["a"], "label": "spam"},
                  "regex": {"name": "r", "pattern": "a", "label": "spam"},
                  "dictionary": {"name": "d", "terms": ["a"], "label": "spam"},
                  "python": {"file": "lfs.py"}, "rules": {"file": "rules.txt"},
                  "votes": {"name": "v", "column": "author"},
                  "wrench": {}, "llm": {"name": "gemma"}}


def test_every_table_and_source_type_is_covered() -> None:
    assert set(TABLE_SAMPLES) == set(SECTIONS) and set(SOURCE_SAMPLES) == set(SOURCE_TYPES)


def _toml_value(v) -> str:
    import json

    return json.dumps(v)


@pytest.mark.parametrize("table", sorted(TABLE_SAMPLES))
@pytest.mark.parametrize("mistake", ["unknown", "type"])
def test_each_table_refuses_unknown_keys_and_wrong_types(tmp_path: Path, table: str, mistake: str) -> None:
    from polarlab import load_project
    from polarlab.errors import ConfigError

    p = make_project(tmp_path)
    key, bad = TABLE_SAMPLES[table]
    line = f"colour = 1" if mistake == "unknown" else f"{key} = {_toml_value(bad)}"
    text = p.read_text()
    import re

    if mistake == "type" and re.search(rf"^{key} = .*$", text, flags=re.M):
        text = re.sub(rf"^{key} = .*$", line, text, count=1, flags=re.M)
    elif f"[{table}]" in text:
        text = text.replace(f"[{table}]\n", f"[{table}]\n{line}\n", 1)
    else:
        extra = 'strategy = "fewshot"\n' if table == "correct" and key != "strategy" else ""
        text += f"\n[{table}]\n{extra}{line}\n"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_project(p)
    assert e.value.file == str(p)
    assert e.value.column == f"{table}.{'colour' if mistake == 'unknown' else key}"


@pytest.mark.parametrize("kind", sorted(SOURCE_SAMPLES))
@pytest.mark.parametrize("mistake", ["unknown", "type"])
def test_each_source_type_refuses_unknown_keys_and_wrong_types(tmp_path: Path, kind: str, mistake: str) -> None:
    from polarlab.errors import ConfigError
    from polarlab.sources.config import validate_source

    table = {"type": kind, **SOURCE_SAMPLES[kind]}
    if mistake == "unknown":
        table["colour"] = 1
        key = "colour"
    else:
        table["fault_tolerant"] = "yes"
        key = "fault_tolerant"
    with pytest.raises(ConfigError) as e:
        validate_source(table, 3, "p.toml")
    assert e.value.file == "p.toml" and e.value.column == f"sources[3].{key}"
