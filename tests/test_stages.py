"""Stages over the project state: skip what is unchanged, re-apply only a changed source, survive kill -9."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from polarlab import load_project
from polarlab.cli import main as cli
from polarlab.pipeline import run
from polarlab.state import ProjectState

from test_project import make_project

ROOT = Path(__file__).resolve().parents[1]


def actions(result) -> dict[str, str]:
    return {r.name: r.action for r in result.stages}


def with_polar(p: Path, features: str = "tfidf") -> None:
    text = p.read_text().replace('methods = ["mv"]', 'methods = ["mv", "snorkel", "polar"]')
    text = text.replace('final = "mv"', f'final = "polar"\n\n[harmonizer]\nfeatures = "{features}"\nn_components = 4')
    p.write_text(text)


def test_rerun_skips_everything_and_a_changed_source_is_reapplied_alone(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    with_polar(p)
    first = run(load_project(p), progress=False)
    assert actions(first) == {"data": "ran", "sources": "ran", "label_models": "ran", "features": "ran",
                              "harmonizer": "ran", "risk": "ran"}
    again = run(load_project(p), progress=False)
    assert actions(again) == {"data": "ran", "sources": "skipped", "label_models": "skipped",
                              "features": "skipped", "harmonizer": "skipped", "risk": "ran"}
    for m in first.probas:
        for s in first.probas[m]:
            assert (first.probas[m][s] == again.probas[m][s]).all()
    assert first.metrics == again.metrics
    # one keyword source changes: only it is applied again, features are not recomputed
    p.write_text(p.read_text().replace('keywords = ["check out"]', 'keywords = ["check out", "free"]'))
    third = run(load_project(p), progress=False)
    sources = next(r for r in third.stages if r.name == "sources")
    assert sources.action == "ran" and sources.report["applied"] == ["kw_check"]
    assert sorted(sources.report["reused"]) == ["author_bot", "rx_link", "terms"]
    assert sources.reason == "input sources[0] changed"
    assert actions(third)["features"] == "skipped" and actions(third)["label_models"] == "ran"
    assert third.matrices["test"].column("kw_check").tolist() == [-1, -1, 1]   # "free free free" is spam now
    # the state is whole, and status says what ran
    st = ProjectState(tmp_path / ".polarlab")
    assert st.check().ok and st.runs()["status"].tolist() == ["ok", "ok", "ok"]
    log = st.stage_log()
    assert (log[log["name"] == "features"]["action"].tolist()) == ["ran", "skipped", "skipped"]


def test_a_stage_recorded_by_other_code_runs_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An upgrade (or an edited checkout) must not hand back results the code in use would not give."""
    import polarlab.stages.base as base

    p = make_project(tmp_path)
    with_polar(p)
    run(load_project(p), progress=False)
    assert actions(run(load_project(p), progress=False))["harmonizer"] == "skipped"
    monkeypatch.setattr(base, "code_version", lambda: "0.0.0+other")
    third = run(load_project(p), progress=False)
    assert {r.name: r.reason for r in third.stages}["harmonizer"] == "config or polarlab's code changed"
    assert actions(third)["harmonizer"] == "ran" and actions(third)["label_models"] == "ran"
    sources = next(r for r in third.stages if r.name == "sources")
    assert sources.report["applied"] == [], "the votes themselves are content-keyed and reused"


def test_status_lists_stale_sources_and_counts(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    runner = CliRunner()
    r = runner.invoke(cli.app, ["status", str(p)])
    assert r.exit_code == 2 and "no project state here yet" in r.stderr
    run(load_project(p), progress=False)
    from polarlab.cli.status import project_status

    st = project_status(p)
    assert st["splits"] == {"train": 5, "test": 3} and st["runs"]["count"] == 1
    assert st["stages"]["sources"]["status"] == "current" and st["stages"]["label_models"]["status"] == "current"
    assert st["stages"]["harmonizer"]["status"] == "not used" and st["stale_sources"] == []
    p.write_text(p.read_text().replace('pattern = "https?://', 'pattern = "http://'))
    st = project_status(p)
    assert st["stages"]["sources"]["status"] == "stale" and st["stale_sources"] == ["sources[1]"]
    assert st["stages"]["label_models"]["status"] == "stale"
    r = runner.invoke(cli.app, ["status", str(p)])
    assert r.exit_code == 0 and "sources[1]" in r.stdout and "stale" in r.stdout


def test_status_after_a_rule_changed_keeps_the_features_current(tmp_path: Path) -> None:
    """The features do not read the votes: after a rule changed, status says they are current (the next run
    skips them), and the stages that read the votes are stale."""
    from polarlab.cli.status import project_status

    p = make_project(tmp_path)
    with_polar(p)
    run(load_project(p), progress=False)
    p.write_text(p.read_text().replace('keywords = ["check out"]', 'keywords = ["check out", "free"]'))
    stages = project_status(p)["stages"]
    assert stages["sources"]["status"] == "stale" and stages["features"]["status"] == "current"
    assert stages["label_models"]["status"] == stages["harmonizer"]["status"] == "stale"
    assert stages["risk"]["status"] == "stale" and stages["correct"]["status"] == "not used"   # no [correct]
    result = run(load_project(p), progress=False)
    assert actions(result)["features"] == "skipped" and actions(result)["harmonizer"] == "ran"


def test_status_takes_the_stages_a_stale_stage_enables_from_its_declaration(tmp_path: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """No stage is special-cased by name: the harmonizer declares (``expect``) that once it runs the risk stage
    is wanted, so risk reads "never ran" / "stale" rather than "not used"; without the declaration it would not."""
    from polarlab.cli.status import project_status
    from polarlab.stages.harmonizer import HarmonizerStage

    p = make_project(tmp_path)
    run(load_project(p), progress=False)                  # mv only: no harmonizer, no risk
    with_polar(p)
    stages = project_status(p)["stages"]
    assert stages["harmonizer"]["status"] == stages["risk"]["status"] == "never ran"
    run(load_project(p), progress=False)
    p.write_text(p.read_text().replace('keywords = ["check out"]', 'keywords = ["check out", "free"]'))
    assert project_status(p)["stages"]["risk"]["status"] == "stale"
    monkeypatch.delattr(HarmonizerStage, "expect")
    assert project_status(p)["stages"]["risk"]["status"] == "not used"


KILLER = textwrap.dedent("""
    import os, signal, sys
    from polarlab import load_project
    from polarlab.labelmodels.registry import LABEL_MODELS
    from polarlab.labelmodels.majority import MajorityVote
    from polarlab.pipeline import run

    class Killer(MajorityVote):
        def fit(self, L, X=None):
            os.kill(os.getpid(), signal.SIGKILL)     # kill -9 in the middle of the label_models stage

    LABEL_MODELS["killer"] = Killer
    run(load_project(sys.argv[1]), progress=False)
""")


def test_kill_9_during_a_stage_then_rerun(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    p.write_text(p.read_text().replace('methods = ["mv"]', 'methods = ["mv", "killer"]'))
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", KILLER, str(p)], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    st = ProjectState(tmp_path / ".polarlab")
    assert st.check().ok
    assert st.stage("sources") is not None and st.stage("label_models") is None
    assert st.runs()["status"].tolist() == ["running"]          # the killed run never finished
    st.close()
    p.write_text(p.read_text().replace('methods = ["mv", "killer"]', 'methods = ["mv"]'))
    r = CliRunner().invoke(cli.app, ["status", str(p)])
    assert r.exit_code == 0 and "(running: not finished; still going, or stopped)" in r.stdout and "nan" not in r.stdout
    result = run(load_project(p), progress=False)
    assert actions(result)["sources"] == "skipped" and actions(result)["label_models"] == "ran"
    assert not (tmp_path / "out" / ".polarlab-staging").exists()
    st = ProjectState(tmp_path / ".polarlab")
    assert st.check().ok and st.runs()["status"].tolist() == ["running", "ok"]


KILLING_LF = textwrap.dedent("""
    import os, signal
    from pathlib import Path
    from polarlab import ABSTAIN, labeling_function

    @labeling_function()
    def author_bot(x):
        marker = Path(__file__).with_name("killed-once")
        if not marker.exists():                  # the first run dies here, after three tables were applied
            marker.write_text("")
            os.kill(os.getpid(), signal.SIGKILL)
        return "spam" if x.author.startswith("bot") else ABSTAIN
""")


def test_kill_9_in_the_sources_stage_then_rerun_reuses_the_tables_applied(tmp_path: Path) -> None:
    """Each table's votes are committed as they are computed; the re-run applies only the tables that were not."""
    p = make_project(tmp_path)
    (tmp_path / "lfs.py").write_text(KILLING_LF, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    code = "import sys; from polarlab import load_project; from polarlab.pipeline import run; " \
           "run(load_project(sys.argv[1]), progress=False)"
    proc = subprocess.run([sys.executable, "-c", code, str(p)], env=env, capture_output=True)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    st = ProjectState(tmp_path / ".polarlab")
    assert st.stage("sources") is None and st.sources("train") == ["kw_check", "rx_link", "terms"]
    st.close()
    result = run(load_project(p), progress=False)
    sources = next(r for r in result.stages if r.name == "sources")
    assert sources.report["applied"] == ["author_bot"]
    assert sources.report["reused"] == ["kw_check", "rx_link", "terms"]
    again = run(load_project(p), progress=False)
    assert result.matrices["train"].names == again.matrices["train"].names
    assert (result.matrices["train"].L == again.matrices["train"].L).all()


def test_outputs_of_an_earlier_run_are_not_mixed_in(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    first = run(load_project(p), progress=False)
    assert set(first.outputs) == {"labels", "analysis", "metrics"}
    # an earlier run left a file this run will not produce: it is removed, and said so
    import json

    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["corrections.csv"] = "x"
    (out / "manifest.json").write_text(json.dumps(manifest))
    (out / "corrections.csv").write_text("old")
    second = run(load_project(p), progress=False)
    assert not (out / "corrections.csv").exists() and (out / "notes.txt").read_text() == "mine"
    assert any(line.startswith("removed corrections.csv") for line in second.replaced)
    assert "replaced labels.csv" in second.replaced
    listed = set(json.loads((out / "manifest.json").read_text())["files"])
    assert listed == {"labels.csv", "analysis.csv", "metrics.json"}


def test_a_source_whose_file_changes_is_reapplied(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    run(load_project(p), progress=False)
    (tmp_path / "terms.tsv").write_text("great\tham\nfree\tspam\n", encoding="utf-8")
    r = run(load_project(p), progress=False)
    assert next(s for s in r.stages if s.name == "sources").report["applied"] == ["terms"]


@pytest.mark.slow
def test_rerun_with_the_embedded_llm_makes_no_call_and_no_embedding(tmp_path: Path) -> None:
    """Real parts: Gemma 3 270M through llama.cpp, MiniLM embeddings."""
    p = make_project(tmp_path)
    with_polar(p, features="embedding")
    p.write_text(p.read_text().replace("[labelmodel]", '[[sources]]\ntype = "llm"\nname = "gemma"\nprogress = false\n\n'
                                       "[labelmodel]").replace("n_components = 4\n", "tune_llm_weight = false\n"))
    first = run(load_project(p), progress=False)
    assert first.extra["report"]["llm"]["gemma"]["calls"] > 0
    again = run(load_project(p), progress=False)
    stats = again.extra["report"]["llm"]["gemma"]             # the LLM source was not even built
    assert stats["calls"] == 0 and stats["requests"] == 0 and "gemma" not in again.extra.get("built", [])
    assert actions(again)["sources"] == "skipped" and actions(again)["features"] == "skipped"
    assert actions(again)["harmonizer"] == "skipped"
    assert (again.extra["columns"]["risk_gemma"]["test"] == first.extra["columns"]["risk_gemma"]["test"]).all()


def test_a_small_fit_split_warns_that_polars_choices_are_noisy(tmp_path: Path) -> None:
    """Below 100 fit rows POLAR's gold-free choices are noisy (25-50-row spam projects with the LLM: below majority
    vote in 8 of 16 runs); the run says so and what to do (more unlabelled rows), and its report keeps the text."""
    import warnings

    from polarlab.harmonizer.diagnostics import SupervisionWarning
    from polarlab.stages.harmonizer import SMALL_FIT_ROWS, warn_small_fit

    p = make_project(tmp_path)
    with_polar(p)
    with pytest.warns(SupervisionWarning, match=r"only \d+ rows in the fit split 'train'.*add unlabelled rows"):
        result = run(load_project(p), progress=False)
    report = next(r for r in result.stages if r.name == "harmonizer").report
    assert any("fit split 'train'" in w for w in report.get("combination", {}).get("warnings", [])), report
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warn_small_fit(SMALL_FIT_ROWS, "train", None)          # enough rows: nothing said
