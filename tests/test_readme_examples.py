"""Every TOML example in README.md loads in the loader of its task kind (so the quick start cannot drift from the
config models). Files the examples name are written as tiny stand-ins; the `[engine]` block is read as part of the
classification example, where a user would put it."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from polarlab.project import load_project
from polarlab.relevance.config import load_relevance_project
from polarlab.spans.run import load_spans_project

README = Path(__file__).resolve().parents[1] / "README.md"


def toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)


def kind_of(block: str) -> str:
    m = re.search(r'^\[task\][^\[]*?^kind\s*=\s*"(\w+)"', block, flags=re.M | re.S)
    if m:
        return m.group(1)
    return "engine" if block.lstrip().startswith("[engine]") else "classification"


def stand_ins(d: Path) -> None:
    for split in ("train.csv", "test.csv"):
        (d / split).write_text("CONTENT,CLASS\nsubscribe to me,1\nnice song,0\n", encoding="utf-8")
    beir = d / "my_beir_folder"
    beir.mkdir()
    (beir / "corpus.jsonl").write_text('{"_id": "d1", "text": "a passage"}\n', encoding="utf-8")
    (beir / "queries.jsonl").write_text('{"_id": "q1", "text": "a query"}\n', encoding="utf-8")
    (d / "docs.txt").write_text("1|t|Flu in children.\n1|a|Flu is common.\n\n", encoding="utf-8")
    (d / "onto.obo").write_text("format-version: 1.2\n\n[Term]\nid: DOID:1\nname: flu\n", encoding="utf-8")


def test_readme_has_an_example_of_each_kind():
    kinds = sorted(kind_of(b) for b in toml_blocks())
    assert kinds == ["classification", "engine", "relevance", "spans"], kinds


@pytest.mark.parametrize("i", range(len(toml_blocks())))
def test_readme_toml_example_loads(tmp_path, i):
    stand_ins(tmp_path)
    blocks = toml_blocks()
    block, kind = blocks[i], kind_of(blocks[i])
    if kind == "engine":   # an addition to a project file: read with the classification example
        block = next(b for b in blocks if kind_of(b) == "classification") + "\n" + block
        kind = "classification"
    path = tmp_path / "polarlab.toml"
    path.write_text(block, encoding="utf-8")
    loader = {"classification": load_project, "relevance": load_relevance_project,
              "spans": load_spans_project}[kind]
    assert loader(path) is not None


EXAMPLES = sorted((README.parent / "examples").glob("*/polarlab.toml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.parent.name for p in EXAMPLES])
def test_example_project_loads(path):
    """The project files under examples/ load in their kind's loader (the README points users at them)."""
    from polarlab.linking.config import load_linking_project

    kind = kind_of(path.read_text(encoding="utf-8"))
    loader = {"linking": load_linking_project, "classification": load_project, "relation": load_project}[kind]
    assert loader(path) is not None
