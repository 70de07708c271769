"""Property test (Hypothesis): project files with random mistakes — unknown keys and sections, wrong types,
missing files — never give a traceback, never exit 0 with the mistake ignored, never leave a half-written
output folder."""
from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from polarlab.cli import main as cli

from test_project import make_project

runner = CliRunner()

# keys of the tiny project (tests/test_project.py) by declared type, as (TOML line regex, key line to write)
STR_KEYS = [("task", "name"), ("data", "text_column"), ("output", "dir"), ("project", "state_dir"),
            ("harmonizer", "features"), ("source", "name"), ("source", "label_column")]
LIST_KEYS = [("task", "labels"), ("labelmodel", "methods"), ("source", "keywords")]
INT_KEYS = [("data", "limit"), ("harmonizer", "epochs")]
BOOL_KEYS = [("source", "ignore_case"), ("harmonizer", "tune_llm_weight")]

not_str = st.one_of(st.integers(), st.floats(allow_nan=False), st.booleans(), st.lists(st.integers(), max_size=2))
not_list = st.one_of(st.integers(), st.text(max_size=8), st.booleans())
not_int = st.one_of(st.text(max_size=5), st.floats(allow_nan=False).filter(lambda f: f != int(f) if abs(f) < 1e15 else True),
                    st.booleans(), st.lists(st.integers(), max_size=2))
not_bool = st.one_of(st.integers(), st.text(max_size=5))
ident = st.from_regex(r"[a-z][a-z_]{0,11}", fullmatch=True)


def toml(v) -> str:
    return json.dumps(v) if not isinstance(v, bool) else ("true" if v else "false")


def put(text: str, table: str, line: str) -> str:
    """Add ``line`` to ``table`` ("source": the first [[sources]] table), replacing a line of the same key."""
    key = line.split(" = ")[0]
    header = "[[sources]]\n" if table == "source" else f"[{table}]\n"
    if header not in text:
        text += "\n" + header
    start = text.index(header) + len(header)
    end = text.find("\n[", start)
    end = len(text) if end < 0 else end + 1
    body = text[start:end]
    body = re.sub(rf"^{re.escape(key)} = .*\n", "", body, flags=re.M)
    return text[:start] + line + "\n" + body + text[end:]


mistakes = st.one_of(
    st.tuples(st.just("unknown key"), st.sampled_from(["task", "data", "labelmodel", "harmonizer", "output",
                                                        "project", "source"]), ident),
    st.tuples(st.just("unknown section"), ident, st.just("")),
    st.tuples(st.just("wrong type"), st.sampled_from(STR_KEYS), not_str),
    st.tuples(st.just("wrong type"), st.sampled_from(LIST_KEYS), not_list),
    st.tuples(st.just("wrong type"), st.sampled_from(INT_KEYS), not_int),
    st.tuples(st.just("wrong type"), st.sampled_from(BOOL_KEYS), not_bool),
    st.tuples(st.just("missing file"), st.sampled_from(["train.csv", "terms.tsv", "lfs.py"]), ident),
    st.tuples(st.just("none"), st.just(""), st.just("")),
)

KNOWN = {"task": {"name", "labels", "kind", "instruction", "text_column", "entity_columns", "verbalizers"},
         "data": {"wrench", "path", "splits", "text_column", "label_column", "id_column", "entity_columns",
                  "span_columns", "split_column", "limit", "fit_split", "eval_split"},
         "labelmodel": {"methods", "final", "options"}, "output": {"dir", "labels"}, "project": {"state_dir"},
         "source": {"type", "name", "keywords", "label", "ignore_case", "whole_word", "column", "explain",
                    "fault_tolerant", "max_failure_share"}}
SECTIONS = {"task", "data", "sources", "labelmodel", "harmonizer", "correct", "output", "project"}


def output_is_whole(out: Path) -> None:
    if not out.exists():
        return
    assert not [p for p in out.iterdir() if p.name.startswith(".polarlab-staging")], "staging folder left"
    manifest = json.loads((out / "manifest.json").read_text())
    listed = set(manifest["files"])
    assert listed == {p.name for p in out.iterdir() if p.is_file() and p.name != "manifest.json"}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mistake=mistakes)
def test_random_mistakes_never_pass_silently(mistake) -> None:
    kind, where, value = mistake
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        p = make_project(tmp)
        text = p.read_text()
        must_fail = kind != "none"
        if kind == "unknown key":
            table = where
            must_fail = value not in KNOWN.get(table, set()) and not (table == "harmonizer")
            if table == "harmonizer":
                from polarlab.config import HarmonizerSection

                must_fail = value not in HarmonizerSection.model_fields
            text = put(text, table, f"{value} = 1")
        elif kind == "unknown section":
            must_fail = value not in SECTIONS
            text += f"\n[{value}]\nx = 1\n" if value != "sources" else ""
            must_fail = must_fail and value != "sources"
        elif kind == "wrong type":
            table, key = where
            if key == "label_column" and table == "source":
                table, key = "data", "label_column"
            text = put(text, table, f"{key} = {toml(value)}")
        elif kind == "missing file":
            name = {"train.csv": "train.csv", "terms.tsv": "terms.tsv", "lfs.py": "lfs.py"}[where]
            text = text.replace(f'"{name}"', f'"{value}.missing"')
        p.write_text(text)
        r = runner.invoke(cli.app, ["run", str(p), "--no-progress"])
        assert r.exit_code in (0, 2), (mistake, r.output, r.exception)
        assert "Traceback" not in r.output
        if must_fail:
            assert r.exit_code == 2, (mistake, "was accepted")
            assert str(p) in " ".join(r.stderr.split()) or f"{value}.missing" in r.stderr, r.stderr
        elif kind == "none":
            assert r.exit_code == 0, r.output
        output_is_whole(tmp / "out")
