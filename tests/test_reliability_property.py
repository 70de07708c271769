"""Property test (Hypothesis): CSV files with random mistakes never end in a traceback.

Generated files have empty, duplicate and unknown column names, empty cells, unknown gold labels,
ragged rows, non-UTF-8 bytes, a BOM, or are missing altogether. Loading one either gives a valid
dataset or raises one :class:`DataError` that names the file and says what to do; running a project
over it either writes every output or writes nothing.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from polarlab import DataError, Task, load_csv  # noqa: E402
from polarlab.pipeline import run  # noqa: E402
from polarlab.project import load_project  # noqa: E402

TASK = Task(labels=("ham", "spam"), name="spam")
COLUMNS = st.sampled_from(["text", "label", "", "author", "Text", "label "])
CELLS = st.sampled_from(["free money", "hello", "", "  ", "caf\u00e9", "win, now", "\"quoted\"", "spam", "ham",
                         "1", "0", "-1", "eggs", "2"])


@st.composite
def csv_files(draw) -> tuple[bytes | None, list[str]]:
    """(file bytes or None for a missing file, the header) with random mistakes."""
    header = draw(st.lists(COLUMNS, min_size=1, max_size=4))
    if draw(st.booleans()):
        header = ["text", "label"] + header[2:]   # often a usable file, so valid paths are exercised too
    rows = draw(st.lists(st.lists(CELLS, min_size=len(header), max_size=len(header)), max_size=5))
    if rows and draw(st.integers(0, 5)) == 0:
        rows[0] = rows[0] + ["extra"]              # a ragged row
    def cell(v: str) -> str:
        return f'"{v.replace(chr(34), chr(34) * 2)}"' if ("," in v or '"' in v) else v
    text = "\n".join(",".join(cell(v) for v in r) for r in [header, *rows]) + "\n"
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "garbage", "missing"]))
    if encoding == "missing":
        return None, header
    if encoding == "garbage":
        return text.encode("utf-8") + draw(st.binary(min_size=1, max_size=8)), header
    return text.encode(encoding), header


def _load(tmp: Path, blob: bytes | None):
    p = tmp / "d.csv"
    if blob is not None:
        p.write_bytes(blob)
    return p, load_csv(p, TASK)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_random_csv_mistakes_load_or_fail_clearly(case) -> None:
    blob, header = case
    with tempfile.TemporaryDirectory() as d:
        try:
            p, ds = _load(Path(d), blob)
        except DataError as e:  # any other exception fails the test: a traceback for the user
            assert str(Path(d) / "d.csv") in str(e) and e.fix, str(e)
            return
    names = [h.strip() for h in header if h.strip()]
    assert len(names) == len(set(names))                    # duplicate columns were refused
    assert len(ds) > 0 and all(isinstance(t, str) and t.strip() for t in ds.texts)
    assert set(ds.gold.tolist()) <= {-1, 0, 1}


PROJECT = """
[task]
labels = ["ham", "spam"]
[data.splits]
train = "d.csv"
[[sources]]
type = "keyword"
name = "kw_free"
keywords = ["free"]
label = "spam"
[labelmodel]
methods = ["mv"]
[output]
dir = "out"
"""


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_random_csv_mistakes_never_half_write_a_run(case) -> None:
    blob, _ = case
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if blob is not None:
            (tmp / "d.csv").write_bytes(blob)
        (tmp / "polarlab.toml").write_text(PROJECT, encoding="utf-8")
        try:
            result = run(load_project(tmp / "polarlab.toml"), progress=False)
        except DataError as e:
            assert "d.csv" in str(e) and e.fix, str(e)
            assert not (tmp / "out").exists()                  # nothing written
            return
        written = {p.name for p in (tmp / "out").iterdir()}
        assert {"labels.csv", "analysis.csv"} <= written
        assert not [n for n in written if n.startswith(".") or n.endswith(".tmp")]  # no temporary leftovers
        assert len(result.splits["train"]) > 0
