"""``polarlab analyze --slices FILE --snorkel`` on a real run's labels."""
from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from polarlab.cli.main import app

SPAM = Path(__file__).resolve().parents[2] / "shared" / "data" / "spam" / "Youtube01-Psy.csv"


@pytest.fixture()
def project(tmp_path):
    if not SPAM.exists():
        pytest.skip("../shared/data/spam is not beside the repository")
    (tmp_path / "slices.py").write_text(
        "from polarlab.slicing import slicing_function\n"
        "from snorkel.slicing import slicing_function as snorkel_sf\n\n"
        "@slicing_function()\ndef short_comment(x):\n    return len(x.text.split()) < 5\n\n"
        "@snorkel_sf()\ndef has_link(x):\n    return 'http' in x.text\n")
    (tmp_path / "polarlab.toml").write_text(f"""
[task]
name = "spam"
labels = ["ham", "spam"]

[data]
path = "{SPAM}"
text_column = "CONTENT"
label_column = "CLASS"
id_column = "COMMENT_ID"

[[sources]]
type = "keyword"
name = "kw_check"
keywords = ["check", "subscribe", "channel"]
label = "spam"

[[sources]]
type = "keyword"
name = "kw_song"
keywords = ["song", "love", "best"]
label = "ham"

[labelmodel]
methods = ["mv", "snorkel"]
final = "snorkel"
""")
    return tmp_path / "polarlab.toml"


def test_analyze_slices_and_lf_summary_after_a_run(project):
    runner = CliRunner()
    before = runner.invoke(app, ["analyze", str(project), "--slices", str(project.parent / "slices.py")])
    assert before.exit_code == 0, before.output
    assert "no run yet" in before.output and "short_comment" in before.output
    ran = runner.invoke(app, ["run", str(project)])
    assert ran.exit_code == 0, ran.output
    out = runner.invoke(app, ["analyze", str(project), "--slices", str(project.parent / "slices.py"), "--snorkel"])
    assert out.exit_code == 0, out.output
    for word in ("overall", "short_comment", "has_link", "last run's final labels", "Emp. Acc.", "Est. Acc."):
        assert word in out.output, word


def test_slices_file_errors_are_clear(project, tmp_path):
    (tmp_path / "empty.py").write_text("x = 1\n")
    out = CliRunner().invoke(app, ["analyze", str(project), "--slices", str(tmp_path / "empty.py")])
    assert out.exit_code != 0 and "no slicing function" in out.output
