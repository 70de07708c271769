"""Module boundaries: only ``state/`` runs SQL on the state's tables, the review store's vote events go through
``ProjectState`` (one transaction with the answer), and the named import cycles stay gone."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from polarlab.errors import StateError
from polarlab.review.store import HUMAN_SOURCE, Item, ReviewStore
from polarlab.state import ProjectState
from polarlab.state.schema import TABLES

SRC = Path(__file__).resolve().parents[1] / "src" / "polarlab"
STATE_TABLES = set(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+)", TABLES))
_SQL_TABLE = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE(?: IF NOT EXISTS)?)\s+(\w+)|sqlite_master\s+WHERE\s+name\s*=\s*'(\w+)'",
                        re.IGNORECASE)


def sql_tables(path: Path) -> tuple[set[str], set[str]]:
    """(tables a module's string literals run SQL on, tables it creates itself)."""
    used, created = set(), set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for a, b in _SQL_TABLE.findall(node.value):
                used.add(a or b)
            created |= set(re.findall(r"CREATE TABLE(?: IF NOT EXISTS)? (\w+)", node.value, flags=re.IGNORECASE))
    return used, created


def test_the_check_sees_sql_on_state_tables(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text('con.execute("SELECT value FROM vote_events WHERE split = ?")\n'
                   'con.execute("CREATE TABLE IF NOT EXISTS mine (a)")\ncon.execute("INSERT INTO mine VALUES (1)")\n')
    used, created = sql_tables(bad)
    assert (used - created) & STATE_TABLES == {"vote_events"}
    assert {"vote_events", "examples", "stages", "runs"} <= STATE_TABLES


def test_no_sql_on_the_state_tables_outside_state() -> None:
    """A module may keep its own tables (e.g. the LLM cache's own ``meta`` in its own file); it may not run SQL
    on a state table it does not create."""
    offenders = {}
    for path in sorted(SRC.rglob("*.py")):
        if path.parent.name == "state" and path.parent.parent == SRC:
            continue
        used, created = sql_tables(path)
        touched = (used - created) & STATE_TABLES
        if touched:
            offenders[str(path.relative_to(SRC))] = sorted(touched)
    assert not offenders, f"SQL on the state's tables outside src/polarlab/state/: {offenders}"


# ------------------------------------------------------------------------------------- review → ProjectState
def _store(tmp_path: Path) -> ReviewStore:
    store = ReviewStore.for_project(tmp_path / ".state", split="train")
    store.set_meta(labels=["ham", "spam"], reviews_per_item=2, audit_share=0.0, threshold=0.1, target=0.9, budget=3)
    store.put_items([Item(i, f"ex-{i}", "risk", 1.0 - i / 10, 0, 0.5, {"text": f"item {i}"}) for i in range(3)])
    return store


def test_review_answers_are_vote_events_with_the_previous_value(tmp_path: Path) -> None:
    store = _store(tmp_path)
    for who, answer in (("ana", 1), ("bo", 0)):
        item = store.next_item(who)
        assert item["row"] == 0
        store.answer(who, 0, answer)
    store.undo("bo")
    with ProjectState(tmp_path / ".state") as state:
        ev = state.vote_events("train", source=HUMAN_SOURCE)
        assert ev["example_id"].tolist() == ["ex-0"] * 3 and ev["value"].tolist() == [1, 0, -1]
        assert ev["previous"].tolist()[1:] == [1, 0] and ev["previous"].isna().tolist()[0]
        assert ev["who"].tolist() == ["ana", "bo", "bo"] and set(ev["kind"]) == {"human"}
        assert state.effective_vote("train", "ex-0", HUMAN_SOURCE) == -1


def test_answer_and_vote_event_commit_together(tmp_path: Path, monkeypatch) -> None:
    store = _store(tmp_path)
    store.next_item("ana")

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ProjectState, "add_vote_event_in", staticmethod(broken))
    with pytest.raises(RuntimeError, match="disk full"):
        store.answer("ana", 0, 1)
    assert store.answers() == []                     # the answer was rolled back with the failed event
    monkeypatch.undo()
    store.answer("ana", 0, 1)
    assert len(store.answers()) == 1
    with ProjectState(tmp_path / ".state") as state:
        assert state.vote_events("train")["value"].tolist() == [1]


def test_a_split_review_needs_a_project_state_file(tmp_path: Path) -> None:
    with pytest.raises(StateError, match="not a project state database"):
        ReviewStore(tmp_path / "review.sqlite", split="train")
    ReviewStore(tmp_path / "review.sqlite")          # a standalone review keeps no vote events: fine


# ------------------------------------------------------------------------------------- import cycles
def import_graph() -> dict[str, set[str]]:
    """module -> the polarlab modules it imports anywhere in its file (top level, in functions, under
    TYPE_CHECKING): a static graph, so a cycle hidden by a lazy import still counts."""
    modules: dict[str, tuple[Path, str]] = {}
    for p in SRC.rglob("*.py"):
        parts = ["polarlab", *p.relative_to(SRC).with_suffix("").parts]
        package = ".".join(parts[:-1])
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = (p, package)
    graph: dict[str, set[str]] = {}
    for name, (path, package) in modules.items():
        out = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
                mod = ".".join(base + ([node.module] if node.module else [])) if node.level else (node.module or "")
                for alias in node.names:
                    full = f"{mod}.{alias.name}"
                    out.add(full if full in modules else mod)
            elif isinstance(node, ast.Import):
                out.update(a.name for a in node.names)
        graph[name] = {m for m in out if m in modules and m != name}
    return graph


def reaches(graph: dict[str, set[str]], start: str, goal: str, skip: set[str]) -> bool:
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt == goal:
                return True
            if nxt not in seen and nxt not in skip:
                seen.add(nxt)
                todo.append(nxt)
    return False


@pytest.mark.parametrize("a,b", [("polarlab.harmonizer.polar", "polarlab.harmonizer.tune"),
                                 ("polarlab.sources.config", "polarlab.llm.source")])
def test_named_import_cycles_are_gone(a: str, b: str) -> None:
    graph = import_graph()
    # a package's __init__ re-exports its modules; passing through one is not a module importing another
    packages = {m for m in graph if (SRC / Path(*m.split(".")[1:]) / "__init__.py").exists()}
    assert reaches(graph, a, b, packages) or reaches(graph, b, a, packages)      # they are related ...
    assert not (reaches(graph, a, b, packages) and reaches(graph, b, a, packages)), f"{a} <-> {b}"  # ... one way


def test_the_cycle_check_sees_a_cycle() -> None:
    graph = {"x": {"y"}, "y": {"z"}, "z": {"x"}}
    assert reaches(graph, "x", "z", set()) and reaches(graph, "z", "x", set())


@pytest.mark.parametrize("folder,other", [("sources", "llm"), ("llm", "sources")])
def test_sources_and_llm_import_each_other_only_at_the_top(folder: str, other: str) -> None:
    """A lazy import between the two packages is how the sources.config <-> llm.source cycle was hidden."""
    for path in sorted((SRC / folder).glob("*.py")):
        text = path.read_text(encoding="utf-8")
        tree = ast.parse(text)
        for fn in [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]:
            for node in ast.walk(fn):
                if isinstance(node, ast.ImportFrom) and node.level == 2 and (node.module or "").split(".")[0] == other:
                    pytest.fail(f"{folder}/{path.name} imports ..{node.module} inside {fn.name}()")


def test_tune_does_not_import_polar() -> None:
    tune = SRC / "harmonizer" / "tune.py"
    assert not [n for n in ast.walk(ast.parse(tune.read_text(encoding="utf-8")))
                if isinstance(n, ast.ImportFrom) and (n.module or "").endswith("polar")]


def test_fresh_interpreters_import_either_module_first() -> None:
    """With every import at the top of its module, a cycle would fail in one of these orders."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(SRC.parent) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    code = ("import polarlab.llm.source, polarlab.sources.config, polarlab.harmonizer.tune, polarlab.harmonizer.polar; "
            "import importlib, sys; [sys.modules.pop(m) for m in list(sys.modules) if m.startswith('polarlab')]; "
            "import polarlab.sources.config, polarlab.llm.source, polarlab.harmonizer.polar, polarlab.harmonizer.tune")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
