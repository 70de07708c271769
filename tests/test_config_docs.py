"""docs/config.md is generated from the typed models and must be up to date."""
from pathlib import Path

from polarlab.config.docs import render

ROOT = Path(__file__).resolve().parents[1]


def test_config_docs_are_up_to_date() -> None:
    committed = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert committed == render(), "run: python -m polarlab.config.docs"


def test_config_docs_cover_every_table_source_type_and_llm_backend() -> None:
    from polarlab.config import SECTIONS
    from polarlab.llm.backends import LLM_BACKENDS
    from polarlab.sources.registry import SOURCE_TYPES

    text = render()
    for backend, spec in LLM_BACKENDS.items():
        assert f'#### `backend = "{backend}"`' in text
        for key in spec.settings.model_fields:
            assert f"| `{key}` |" in text
    for name in SECTIONS:
        assert f"## `[{name}]`" in text
    for kind in SOURCE_TYPES:
        assert f'### `type = "{kind}"`' in text


def test_config_docs_cover_every_linking_table_and_key() -> None:
    from polarlab.linking.config import LINKING_TABLES, LinkingProject

    text = render()
    tables = {"ontology", "linking", "output"} | {f"linking.{k}" for k in ("train", "harmonizer", "calibration", "llm")}
    assert set(LINKING_TABLES) == tables and set(LinkingProject.model_fields) - {"task", "project"} <= tables
    section = text[text.index("## Linking projects"):]
    for name, model in LINKING_TABLES.items():
        assert f"### `[{name}]`" in section
        for key in model.model_fields:
            assert f"| `{key}` |" in section


def test_config_docs_cover_the_relevance_and_spans_projects_keys() -> None:
    """The relevance and spans project files are documented too (their errors say "see docs/config.md")."""
    from polarlab.relevance.config import RelevanceConfig
    from polarlab.spans.config import CorrectSpec, DataSpec, HarmonizerSpec, SourceSpec

    text = render()
    relevance = text[text.index("## Relevance projects"):text.index("## Spans projects")]
    assert all(f"| `{key}` |" in relevance for key in RelevanceConfig.model_fields if key != "data")
    spans = text[text.index("## Spans projects"):]
    for table, model in (("[data]", DataSpec), ("[[sources]]", SourceSpec), ("[harmonizer]", HarmonizerSpec),
                         ("[correct]", CorrectSpec)):
        section = spans[spans.index(f"### `{table}`"):]
        assert all(f"| `{key}` |" in section for key in model.model_fields)


def _tables(model, name: str):
    """``(toml table name, model)`` for ``model`` and every table model nested in its fields (``harmonizer`` ->
    ``harmonizer.transformer``), walking Optional / list / dict annotations."""
    import typing

    from pydantic import BaseModel

    yield name, model
    for key, field in model.model_fields.items():
        stack = [field.annotation]
        while stack:
            a = stack.pop()
            if isinstance(a, type) and issubclass(a, BaseModel):
                yield from _tables(a, f"{name}.{key}" if name else key)
            else:
                stack.extend(typing.get_args(a))


def _documented(chapter: str, heading: str) -> set[str]:
    """The keys of the table under ``heading`` in ``chapter`` (rows ``| `key` | ...`` up to the next heading)."""
    import re

    m = re.search(r"^#{2,4} " + re.escape(heading) + "$", chapter, flags=re.M)
    assert m, f"docs/config.md has no heading {heading}"
    body = re.split(r"\n#{2,4} ", chapter[m.end():], maxsplit=1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", body, flags=re.M))


def test_every_key_a_project_file_accepts_is_documented():
    """Walk the typed models of every project kind (and the tables nested in them): each key they accept is a row
    of its table in docs/config.md, so a key added to a model without its docs fails here."""
    from polarlab.config import SECTIONS
    from polarlab.config.models import JobTaskSection, ProjectConfig
    from polarlab.linking.config import LinkingProject
    from polarlab.llm.backends import LLM_BACKENDS
    from polarlab.relevance.config import RelevanceConfig
    from polarlab.sources.registry import SOURCE_TYPES
    from polarlab.spans.config import SPANS_TABLES

    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    label = text[:text.index("## Linking projects")]
    linking = text[text.index("## Linking projects"):text.index("## Relevance projects")]
    relevance = text[text.index("## Relevance projects"):text.index("## Spans projects")]
    spans = text[text.index("## Spans projects"):]
    checks = []      # (chapter, heading, model)
    assert set(SECTIONS) == set(ProjectConfig.model_fields) - {"sources"}
    for name, model in SECTIONS.items():
        for table, m in _tables(model, name):
            checks.append((label, f"`[{table}]`", m))
    for kind, spec in SOURCE_TYPES.items():
        checks.append((label, f'`type = "{kind}"`', spec.settings))
    for backend, spec in LLM_BACKENDS.items():
        checks.append((label, f'`backend = "{backend}"`', spec.settings))
    for table, m in _tables(LinkingProject, ""):
        if table:
            checks.append((linking, f"`[{table}]`", m))
    checks.append((linking, "`[task]`", JobTaskSection))    # LinkingProject.task is checked by JobTaskSection
    checks.append((relevance, "`[task]`", JobTaskSection))
    checks.append((relevance, "`[relevance]`", RelevanceConfig))
    for table, model in SPANS_TABLES.items():
        for t, m in _tables(model, table):
            checks.append((spans, f"`[{t}]`", m))
    missing = []
    for chapter, heading, model in checks:
        keys = set(model.model_fields) - ({"data"} if model is RelevanceConfig else set())   # data: [data] beir
        missing += [f"{heading} {k}" for k in sorted(keys - _documented(chapter, heading))]
    assert not missing, f"accepted but not in docs/config.md: {missing}"


def test_every_documented_table_refuses_an_unknown_key(tmp_path):
    """The other half: a table that took any key (a plain dict, as linking's and relevance's [task] were) would
    accept keys no docs name. Each table of each kind, given one unknown key, is refused naming that key."""
    import copy

    import pytest

    from polarlab.errors import ConfigError
    from polarlab.linking.config import linking_project_from_dict
    from polarlab.project import load_project
    from polarlab.relevance.config import load_relevance_project
    from polarlab.spans.run import load_spans_project

    (tmp_path / "d.csv").write_text("text,label\nbuy now,1\nnice video,0\n")
    label = {"task": {"labels": ["ham", "spam"]}, "data": {"path": "d.csv"},
             "sources": [{"type": "keyword", "name": "k", "keywords": ["buy"], "label": "spam"}],
             "labelmodel": {"methods": ["mv", "polar"]}, "harmonizer": {"model": "transformer", "transformer": {}},
             "correct": {"strategy": "verify"}, "output": {}, "project": {}, "engine": {}}
    linking = {"task": {"kind": "linking"}, "ontology": {"paths": ["o.tsv"]},
               "linking": {"corpus": ["c.txt"], "train": {}, "harmonizer": {}, "calibration": {}, "llm": {}},
               "output": {}, "project": {}}
    spans = {"task": {"kind": "spans"}, "data": {"path": "c.txt"}, "sources": [{"type": "regex", "name": "r",
             "pattern": "x"}], "harmonizer": {}, "correct": {}, "output": {}, "project": {}}
    relevance = {"task": {"kind": "relevance"}, "data": {"beir": "b"}, "relevance": {}, "project": {}}

    def toml(raw: dict) -> str:
        import json

        lines = []

        def table(prefix: str, d: dict) -> None:
            lines.append(f"[{prefix}]")
            lines.extend(f"{k} = {json.dumps(v)}" for k, v in d.items() if not isinstance(v, dict))
            for k, v in d.items():
                if isinstance(v, dict):
                    table(f"{prefix}.{k}", v)

        for name, v in raw.items():
            if name == "sources":
                for s in v:
                    lines.append("[[sources]]")
                    lines.extend(f"{k} = {json.dumps(x)}" for k, x in s.items())
            else:
                table(name, v)
        return "\n".join(lines) + "\n"

    def load(kind: str, raw: dict) -> None:
        p = tmp_path / f"{kind}.toml"
        p.write_text(toml(raw))
        {"label": load_project, "spans": load_spans_project, "relevance": load_relevance_project,
         "linking": lambda f: linking_project_from_dict(__import__("tomllib").loads(f.read_text()), f)}[kind](p)

    def paths(d: dict, pre: tuple = ()):
        for k, v in d.items():
            if isinstance(v, dict):
                yield pre + (k,)
                yield from paths(v, pre + (k,))
            elif isinstance(v, list) and isinstance(v[0], dict):
                yield pre + (k, 0)

    for kind, base in (("label", label), ("linking", linking), ("spans", spans), ("relevance", relevance)):
        load(kind, base)                       # the base project is valid
        for path in paths(base):
            raw = copy.deepcopy(base)
            t = raw
            for p in path:
                t = t[p]
            t["zzq"] = 1
            with pytest.raises(ConfigError) as e:
                load(kind, raw)
            assert "zzq" in str(e.value), (kind, path, str(e.value))


def test_every_table_row_has_four_cells():
    """A '|' in a meaning ("csv | jsonl") must be escaped, or the row has more cells than the header."""
    import re

    for line in (ROOT / "docs" / "config.md").read_text(encoding="utf-8").splitlines():
        if line.startswith("| `"):
            assert len(re.findall(r"(?<!\\)\|", line)) == 5, line


def test_an_unset_keys_default_is_the_one_the_code_that_reads_it_uses():
    """`[harmonizer] epochs` showed '—' (unset) though an unset key means PolarHarmonizer's 100; the docs show the
    reader's default, checked here against the objects a run builds from an empty table."""
    import re

    from polarlab.correct import CorrectionConfig
    from polarlab.features import FeatureSpec
    from polarlab.harmonizer import PolarHarmonizer

    text = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")

    def shown(heading: str, key: str) -> str:
        body = text[text.index(f"## `[{heading}]`"):]
        return re.search(rf"^\| `{key}` \| [^|]+ \| ([^|]+) \|", body, flags=re.M).group(1).strip()

    h, spec, cc = PolarHarmonizer(2), FeatureSpec(), CorrectionConfig()
    assert shown("harmonizer", "epochs") == f"`{h.epochs!r}`" and shown("harmonizer", "n_seeds") == f"`{h.n_seeds!r}`"
    assert shown("harmonizer", "batch_size") == f"`{spec.batch_size!r}`"      # embedding batch: FeatureSpec's
    assert shown("correct", "budget") == f"`{cc.budget!r}`" and shown("correct", "update") == f"`{cc.update!r}`"
    assert shown("harmonizer.transformer", "seed") == "—"                    # the [harmonizer] seed
