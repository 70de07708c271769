"""Human answers reach `polarlab run`: a `human` column, top weight, reviewed labels final, skip logic."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from polarlab import load_project
from polarlab.pipeline import run
from polarlab.state import ProjectState

from test_project import make_project
from test_stages import actions, with_polar

HAM, SPAM = 0, 1


def labels(tmp_path: Path) -> pd.DataFrame:
    return pd.read_csv(tmp_path / "out" / "labels.csv", dtype={"id": str}, keep_default_na=False).set_index("id")


def test_human_answers_are_used_by_the_next_run_and_then_skipped(tmp_path: Path) -> None:
    p = make_project(tmp_path)
    with_polar(p)
    first = run(load_project(p), progress=False)
    assert "human" not in first.matrices["train"].names and "reviewed_by" not in labels(tmp_path).columns
    machine = labels(tmp_path)
    assert machine.loc["t1", "label"] == "ham" and machine.loc["s1", "label"] == "ham"

    with ProjectState(tmp_path / ".polarlab") as st:       # as the review store / an import writes them
        st.add_vote_events([
            {"split": "train", "example_id": "t1", "source": "human", "value": SPAM, "who": "alice", "time": 10},
            {"split": "train", "example_id": "t0", "source": "human", "value": SPAM, "who": "bob", "time": 11},
            {"split": "train", "example_id": "t0", "source": "human", "value": HAM, "who": "bob", "time": 12},
            {"split": "test", "example_id": "s1", "source": "human", "value": SPAM, "who": "alice", "time": 13},
            {"split": "test", "example_id": "s1", "source": "human", "value": SPAM, "who": "bob", "time": 14},
            {"split": "test", "example_id": "s1", "source": "human", "value": HAM, "who": "carol", "time": 15},
        ])
    second = run(load_project(p), progress=False)
    assert actions(second) == {"data": "ran", "sources": "ran", "label_models": "ran", "features": "skipped",
                               "harmonizer": "ran", "risk": "ran"}
    src = next(r for r in second.stages if r.name == "sources")
    assert src.reason == "input human changed" and src.report["applied"] == []     # no source applied again
    m = second.matrices["train"]
    assert m.names[-1] == "human" and m.column("human").tolist() == [HAM, SPAM, -1, -1, -1]
    assert second.matrices["test"].column("human").tolist() == [-1, SPAM, -1]      # 2 of 3 reviewers
    h = next(r for r in second.stages if r.name == "harmonizer").report
    assert h["reviewed"] == {"train": 2, "test": 1}
    assert np.isclose(h["human_weight"]["human"], 10 * h["human_weight"]["largest_other"])
    out = labels(tmp_path)
    for ex, lab, who, risk in (("t1", "spam", "alice", 0.0), ("t0", "ham", "bob", 0.0),
                               ("s1", "spam", "alice,bob,carol", 1 / 3)):     # carol disagreed on s1
        row = out.loc[ex]
        assert (row["label"], row["label_source"], row["reviewed_by"]) == (lab, "human", who)
        assert float(row["probability"]) == 1.0 and bool(row["reviewed"])
        assert np.isclose(float(row["risk"]), risk)
    rest = out.drop(index=["t0", "t1", "s1"])
    assert (rest["label_source"] == "polar").all() and (rest["reviewed_by"] == "").all()
    assert not rest["reviewed"].astype(bool).any()

    third = run(load_project(p), progress=False)
    assert actions(third) == {"data": "ran", "sources": "skipped", "label_models": "skipped",
                              "features": "skipped", "harmonizer": "skipped", "risk": "ran"}
    assert (third.probas["polar"]["test"] == second.probas["polar"]["test"]).all()
    assert labels(tmp_path).equals(out)

    with ProjectState(tmp_path / ".polarlab") as st:       # an undo (value -1) takes alice's answer back
        st.add_vote_event("train", "t1", "human", -1, who="alice")
    fourth = run(load_project(p), progress=False)
    assert actions(fourth)["harmonizer"] == "ran"
    assert fourth.matrices["train"].column("human").tolist() == [HAM, -1, -1, -1, -1]
    assert labels(tmp_path).loc["t1", "reviewed_by"] == ""


def test_answers_from_the_review_app_reach_the_run(tmp_path: Path) -> None:
    from polarlab.review.session import ReviewConfig, open_session

    p = make_project(tmp_path)
    with_polar(p)
    session = open_session(load_project(p), ReviewConfig(split="train", audit_share=0.0, budget=5))
    store = session.store
    item = store.next_item("dana")
    answer = 1 - int(item["label"])            # the reviewer disagrees with the machine
    store.answer("dana", item["row"], answer)
    result = run(load_project(p), progress=False)
    assert actions(result)["harmonizer"] == "ran"
    out = labels(tmp_path)
    row = out.loc[str(item["id"])]
    assert (row["label_index"], row["label_source"], row["reviewed_by"]) == (answer, "human", "dana")
    assert result.matrices["train"].column("human").tolist().count(answer) == 1
    # `polarlab export` reads the same answers from the state, with the tool that made them
    from polarlab.export.project import load_project_labels

    exported = load_project_labels(load_project(p)).data.frame().set_index("id").loc[str(item["id"])]
    assert (exported["label_index"], exported["reviewed_by"]) == (answer, "dana")
    assert '"tool": "review"' in exported["provenance"]


def test_exports_between_review_and_the_next_run_carry_the_reviewers_label(tmp_path: Path) -> None:
    """After a review and before the next `polarlab run` the state holds the model's distributions: every
    export format must still give a reviewed row the reviewer's label at probability 1 with risk 0, not the
    model's probability of that label, and say that a human gave it."""
    import json

    from polarlab.export import argilla, label_studio, tables
    from polarlab.export.formats import export
    from polarlab.export.project import load_project_labels

    p = make_project(tmp_path)
    with_polar(p)
    run(load_project(p), progress=False)
    model = labels(tmp_path).loc["t1"]
    assert model["label"] == "ham" and float(model["p_spam"]) < 0.5        # the model says ham
    with ProjectState(tmp_path / ".polarlab") as st:
        st.add_vote_event("train", "t1", "human", SPAM, kind="human", who="alice")
    data = load_project_labels(load_project(p)).data
    assert data.proba[data.ids.index("t1"), SPAM] < 0.5                    # not re-run: still the model's
    out = tmp_path / "exports"
    for fmt in ("csv", "jsonl", "parquet", "hf"):
        frame = tables.read_labels(export(data, fmt, directory=out / fmt)).set_index("id")
        row = frame.loc["t1"]
        assert (row["label"], row["label_source"], row["reviewed_by"], bool(row["reviewed"])) == (
            "spam", "human", "alice", True), fmt
        assert (float(row["probability"]), float(row["p_spam"]), float(row["p_ham"]), float(row["risk"])) == (
            1.0, 1.0, 0.0, 0.0), fmt
        assert frame.loc["t3", "label_source"] == "polar" and not bool(frame.loc["t3", "reviewed"])
    task = next(t for t in label_studio.read_tasks(export(data, "label-studio", directory=out))
                if t["data"]["polarlab_id"] == "t1" and t["data"]["split"] == "train")
    assert (task["data"]["label"], task["data"]["risk"], task["data"]["label_source"]) == ("spam", 0.0, "human")
    pred = task["predictions"][0]
    assert (pred["result"][0]["value"]["choices"], pred["score"], pred["model_version"]) == (
        ["spam"], 1.0, "polarlab-human")
    rec = next(r for r in argilla.read_records(export(data, "argilla", directory=out)) if r["id"] == "train/t1")
    assert rec["suggestions"]["label"] == {"value": "spam", "score": 1.0, "agent": "polarlab-human"}
    assert rec["metadata"]["risk"] == 0.0 and json.loads(rec["metadata"]["provenance"])["human"][0]["label"] == "spam"
