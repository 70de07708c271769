"""``polarlab run`` hands task kinds with runners of their own to them (the project-runner registry)."""
from __future__ import annotations

from typer.testing import CliRunner

from polarlab.cli.main import app
from polarlab.project import peek_task_kind
from polarlab.tasks import PROJECT_RUNNERS, project_runner


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
