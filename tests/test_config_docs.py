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
