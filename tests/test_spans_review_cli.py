"""`polarlab review` of a spans project: a real spans run (dictionary and rule sources, the span harmonizer), its
spans in the review store riskiest first, answers through the real app, the export without the spans called wrong."""
from __future__ import annotations

import json

import pandas as pd
from fastapi.testclient import TestClient
from test_job_outputs_spans import _project
from typer.testing import CliRunner

from polarlab.cli.main import app
from polarlab.jobs.status import read_runs
from polarlab.review.app import TOKEN_HEADER, create_app
from polarlab.review.kinds import review_kind
from polarlab.review.session import ReviewConfig


def test_spans_review_from_the_saved_run(tmp_path):
    project = _project(tmp_path)
    res = CliRunner().invoke(app, ["run", project])
    assert res.exit_code == 0, res.output
    session = review_kind("spans").open(project, ReviewConfig(audit_share=0.0, budget=50), False)
    assert len(read_runs(tmp_path / "st")) == 1                 # the saved run is reused
    rows = [json.loads(ln) for ln in (tmp_path / "out" / "spans.jsonl").read_text().splitlines()]
    spans = [(r["id"], s["start"], s["end"]) for r in rows for s in r["spans"]]
    items = sorted(session.store.items(), key=lambda it: -it.priority)
    assert len(items) == len(spans) >= 3
    assert [it.risk for it in items] == sorted((it.risk for it in items), reverse=True)

    client = TestClient(create_app(session.store, "tok"))
    h = {TOKEN_HEADER: "tok"}
    wrong = client.get("/api/next", params={"reviewer": "dan"}, headers=h).json()["item"]
    e = wrong["entities"][0]
    assert wrong["row"] == items[0].row and wrong["text"][e["start"]:e["end"]] == wrong["mention"]
    assert client.post("/api/answer", json={"reviewer": "dan", "row": wrong["row"], "label": 0}, headers=h).is_success
    right = client.get("/api/next", params={"reviewer": "dan"}, headers=h).json()["item"]
    r = client.post("/api/answer", json={"reviewer": "dan", "row": right["row"], "label": 2}, headers=h)
    assert r.status_code == 422 and "not a label index" in r.json()["error"]
    assert client.post("/api/answer", json={"reviewer": "dan", "row": right["row"], "label": 1}, headers=h).is_success

    out = tmp_path / "reviewed.csv"
    res = CliRunner().invoke(app, ["review", "status", project, "--export", str(out)])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype={"document_id": str}, keep_default_na=False)
    assert len(got) == len(spans) - 1
    key = list(zip(got["document_id"], got["start"], got["end"]))
    assert (wrong["doc"], wrong["start"], wrong["end"]) not in key
    at = key.index((right["doc"], right["start"], right["end"]))
    assert got.loc[at, "source"] == "human" and got.loc[at, "reviewers"] == "dan"
    assert (got["source"] == "human").sum() == 1
