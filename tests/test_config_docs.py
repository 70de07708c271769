"""docs/config.md is generated from the typed models and must be up to date."""
from pathlib import Path

from polarlab.config.docs import render

ROOT = Path(__file__).resolve().parents[1]


def test_config_docs_are_up_to_date() -> None:
    committed = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert committed == render(), "run: python -m polarlab.config.docs"


def test_config_docs_cover_every_table_and_source_type() -> None:
    from polarlab.config import SECTIONS
    from polarlab.sources.registry import SOURCE_TYPES

    text = render()
    for name in SECTIONS:
        assert f"## `[{name}]`" in text
    for kind in SOURCE_TYPES:
        assert f'### `type = "{kind}"`' in text
