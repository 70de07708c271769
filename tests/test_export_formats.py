"""Every export format written and read back (labels, probabilities, risk, provenance), and the imports
of Label Studio / Argilla annotations as human votes, stored in and read from the project state."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from polarlab.errors import ConfigError, DataError, InputError
from polarlab.export import argilla, label_studio, tables
from polarlab.export.formats import EXPORT_FORMATS, export, sniff_import_format
from polarlab.export.provenance import HumanVote, LabeledData, human_label, votes_from_provenance
from polarlab.matrix.label_matrix import LabelMatrix
from polarlab.task import Task

TASK = Task(labels=("ham", "spam", "other"), name="t")
IDS = ["0", "1", "2", "0", "1"]                       # ids repeat across splits, as in WRENCH
SPLITS = ["train", "train", "train", "test", "test"]
TEXTS = ["great song", 'free "gift", card\nclick', "ünïcode ✓ text", "subscribe", "nice"]
PROBA = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.2, 0.7, 0.1], [0.6, 0.3, 0.1]])
VOTES = LabelMatrix(np.array([[0, -1], [1, 1], [-1, 2], [1, -1], [-1, -1]]), ["kw", "llm"], IDS, 3)
HUMAN = [HumanVote("1", 1, "alice", "2026-11-30T10:00:00+00:00", "review", "train"),
         HumanVote("1", 2, "bob", "2026-11-30T10:05:00+00:00", "label_studio", "train"),
         HumanVote("0", 0, "alice", "2026-11-30T10:01:00+00:00", "review", "test")]
CORR = {"train/2": [{"source": "llm", "strategy": "fewshot", "before": "ham", "after": "other"}]}


def make_data() -> LabeledData:
    return LabeledData(TASK, IDS, TEXTS, PROBA, votes=VOTES, human=list(HUMAN), split=SPLITS, corrections=CORR,
                       method="polar")


def test_frame_has_provenance_and_reviewed_labels() -> None:
    f = make_data().frame()
    assert f["label"].tolist() == ["ham", "other", "other", "ham", "ham"]
    # train/1: alice spam, bob other (later) -> tie goes to the latest; test/0: reviewed ham over the model's spam
    assert f["label_source"].tolist() == ["polar", "human", "polar", "human", "polar"]
    assert f["reviewed_by"].tolist() == ["", "alice,bob", "", "alice", ""]
    p = json.loads(f["provenance"][2])
    assert p == {"method": "polar", "sources": {"llm": "other"}, "corrections": CORR["train/2"], "human": []}
    assert json.loads(f["provenance"][1])["sources"] == {"kw": "spam", "llm": "spam"}
    model = [0, 2, 4]                                   # rows nobody reviewed keep the model's figures
    np.testing.assert_allclose(f["risk"][model], 1 - PROBA[model].max(1))
    np.testing.assert_allclose(f["probability"][model], PROBA[model].max(1))


def test_reviewed_rows_carry_the_reviewers_label_not_the_models_probability() -> None:
    """Before the next `polarlab run` the distributions are still the model's: a reviewed row must not
    export the model's probability of the human label (0.1 for train/1's "other", 0.2 for test/0's "ham")
    nor the model's risk of its own label."""
    f = make_data().frame()
    reviewed = f["reviewed"].to_numpy()
    assert reviewed.tolist() == [False, True, False, True, False]
    np.testing.assert_allclose(f["probability"][reviewed], 1.0)
    np.testing.assert_allclose(f.loc[reviewed, ["p_ham", "p_spam", "p_other"]].to_numpy(),
                               [[0, 0, 1], [1, 0, 0]])
    # train/1: alice spam, bob other -> "other", half the reviewers disagree; test/0: one reviewer
    np.testing.assert_allclose(f["risk"][reviewed], [0.5, 0.0])


def test_human_label_majority_latest_per_annotator() -> None:
    v = [HumanVote("a", 0, "x", "2026-01-01T00:00:00"), HumanVote("a", 1, "x", "2026-01-02T00:00:00"),
         HumanVote("a", 1, "y", "2026-01-01T00:00:00"), HumanVote("a", 2, "z", "2026-01-03T00:00:00")]
    assert human_label(v) == 1          # x changed its mind to 1; 1 has two annotators
    assert human_label([]) == -1


def test_unknown_human_vote_is_refused() -> None:
    with pytest.raises(InputError, match="not an example"):
        LabeledData(TASK, IDS, TEXTS, PROBA, split=SPLITS, human=[HumanVote("9", 0, "a", "t", "review", "train")])
    with pytest.raises(InputError, match="several splits"):   # "0" is in train and test
        LabeledData(TASK, IDS, TEXTS, PROBA, split=SPLITS, human=[HumanVote("0", 0, "a", "t")])


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet", "hf"])
def test_table_formats_round_trip(tmp_path: Path, fmt: str) -> None:
    data = make_data()
    path = export(data, fmt, directory=tmp_path)
    assert path.parent == tmp_path / "export" and path.name == EXPORT_FORMATS[fmt].default_name
    back = tables.read_labels(path)
    want = tables.read_labels(export(data, "jsonl", tmp_path / "ref.jsonl")) if fmt != "jsonl" else back
    expect = data.frame()
    assert list(back.columns) == list(expect.columns)
    for col in ("id", "text", "split", "label", "label_source", "reviewed_by"):
        assert back[col].astype(str).tolist() == expect[col].astype(str).tolist(), col
    assert back["reviewed"].astype(bool).tolist() == expect["reviewed"].tolist()
    for col in ("probability", "p_ham", "p_spam", "p_other", "risk"):
        np.testing.assert_allclose(back[col].astype(float), expect[col], rtol=1e-9)
    assert back["provenance"].tolist() == [json.loads(p) for p in expect["provenance"]] == want["provenance"].tolist()
    assert sorted(votes_from_provenance(back, TASK), key=str) == sorted(data.human, key=str)


def test_table_export_refuses_wrong_suffix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ends in"):
        export(make_data(), "csv", tmp_path / "labels.parquet")
    with pytest.raises(ConfigError, match="unknown export format"):
        export(make_data(), "xlsx", directory=tmp_path)


def test_label_studio_tasks_round_trip(tmp_path: Path) -> None:
    from label_studio_sdk.label_interface import LabelInterface

    data = make_data()
    path = export(data, "label-studio", directory=tmp_path)
    config = (path.parent / (path.stem + ".label_config.xml")).read_text(encoding="utf-8")
    li = LabelInterface(config)
    assert li.get_control("label").labels == list(TASK.labels)
    tasks = label_studio.read_tasks(path)
    frame = data.frame()
    assert [t["data"]["polarlab_id"] for t in tasks] == IDS and [t["data"]["split"] for t in tasks] == SPLITS
    assert [t["data"]["text"] for t in tasks] == TEXTS
    for t, row, p in zip(tasks, frame.itertuples(), PROBA):
        pred = t["predictions"][0]
        assert li.validate_prediction(pred, return_errors=True) == []
        assert pred["result"][0]["value"]["choices"] == [row.label]
        assert (t["data"]["label_source"], t["data"]["reviewed"]) == (row.label_source, row.reviewed)
        if row.reviewed:    # the reviewers' label, scored by their agreement, not the model's prediction
            assert pred["model_version"] == "polarlab-human" and pred["score"] == pytest.approx(1 - row.risk)
        else:
            assert pred["model_version"] == "polarlab-polar" and pred["score"] == pytest.approx(p.max())
        assert t["data"]["provenance"] == json.loads(row.provenance)
        assert t["data"]["risk"] == pytest.approx(row.risk)


def _ls_export_from_sdk(tmp_path: Path) -> Path:
    """A Label Studio JSON export built from label-studio-sdk's own objects (tasks as polarlab exported them)."""
    from label_studio_sdk.label_interface import LabelInterface
    from label_studio_sdk.label_interface.objects import AnnotationValue, TaskValue

    li = LabelInterface(label_studio.label_config(TASK))
    choices = li.get_control("label")
    tasks = label_studio.to_tasks(make_data())
    out = []
    answers = {1: ("spam", 3, "2026-11-30T11:00:00.123456Z", False), 3: ("ham", 4, "2026-11-30T11:02:00Z", False),
               4: ("other", 3, "2026-11-30T11:03:00Z", True)}        # the last one was cancelled
    for i, t in enumerate(tasks):
        anns = []
        if i in answers:
            label, user, when, cancelled = answers[i]
            a = AnnotationValue(completed_by=user, result=[choices.label([label])], was_cancelled=cancelled)
            anns.append({**a.model_dump(), "id": 100 + i, "created_at": when, "updated_at": when})
        tv = TaskValue(data=t["data"], annotations=[], predictions=[])
        out.append({**tv.model_dump(), "id": i + 1, "annotations": anns, "predictions": t["predictions"]})
    path = tmp_path / "project-1-at-2026.json"
    path.write_text(json.dumps(out), encoding="utf-8")
    return path


def test_label_studio_import_of_sdk_export(tmp_path: Path) -> None:
    path = _ls_export_from_sdk(tmp_path)
    assert sniff_import_format(path) == "label-studio"
    votes = label_studio.read_annotations(path, TASK)
    # both rows were reviewed when exported: the tool showed the reviewers' label, no machine label to compare with
    assert votes == [HumanVote("1", 1, "label-studio-user-3", "2026-11-30T11:00:00.123456Z", "label_studio", "train",
                               None, "people"),
                     HumanVote("0", 0, "label-studio-user-4", "2026-11-30T11:02:00Z", "label_studio", "test",
                               None, "people")]
    data = LabeledData(TASK, IDS, TEXTS, PROBA, split=SPLITS, human=votes)
    assert data.frame()["reviewed"].tolist() == [False, True, False, True, False]


def test_label_studio_import_json_min_and_text_matching(tmp_path: Path) -> None:
    path = tmp_path / "min.json"
    path.write_text(json.dumps([{"id": 5, "text": "nice", "label": "Spam", "annotator": "eve@x.org",
                                 "annotation_id": 9, "created_at": "2026-11-30T12:00:00Z"},
                                {"id": 6, "text": "great song"}]), encoding="utf-8")
    votes = label_studio.read_annotations(path, TASK, text_ids={"nice": "1", "great song": "0"})
    assert votes == [HumanVote("1", 1, "eve@x.org", "2026-11-30T12:00:00Z", "label_studio", None)]


def test_label_studio_import_bad_label_names_file_and_row(tmp_path: Path) -> None:
    path = _ls_export_from_sdk(tmp_path)
    tasks = json.loads(path.read_text(encoding="utf-8"))
    tasks[3]["annotations"][0]["result"][0]["value"]["choices"] = ["eggs"]
    path.write_text(json.dumps(tasks), encoding="utf-8")
    with pytest.raises(InputError) as e:
        label_studio.read_annotations(path, TASK)
    assert str(path) in str(e.value) and "row 3" in str(e.value) and "'eggs'" in str(e.value)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(DataError, match="invalid JSON"):
        label_studio.read_annotations(path, TASK)


def test_argilla_records_round_trip(tmp_path: Path) -> None:
    data = make_data()
    path = export(data, "argilla", directory=tmp_path)
    assert sniff_import_format(path) == "argilla"
    recs = argilla.read_records(path)
    frame = data.frame()
    assert [r["id"] for r in recs] == [f"{s}/{i}" for s, i in zip(SPLITS, IDS)]
    for r, row, p in zip(recs, frame.itertuples(), PROBA):
        assert set(r) == {"id", "fields", "metadata", "suggestions", "responses", "vectors", "_server_id"}
        assert r["fields"] == {"text": row.text}
        s = r["suggestions"]["label"]
        if row.reviewed:    # the reviewers' label, not the model's suggestion
            assert (s["value"], s["agent"]) == (row.label, "polarlab-human")
            assert s["score"] == pytest.approx(1 - row.risk) and r["metadata"]["label_source"] == "human"
        else:
            assert s["value"] == TASK.labels[int(p.argmax())] and s["score"] == pytest.approx(p.max())
            assert s["agent"] == "polarlab-polar" and r["metadata"]["reviewed"] is False
        assert json.loads(r["metadata"]["provenance"]) == json.loads(row.provenance)
        assert r["metadata"]["split"] == row.split and r["metadata"]["polarlab_id"] == row.id
    # the human votes come back as responses (Argilla 2 keeps no per-response time: the record's is used)
    back = argilla.read_annotations(path, TASK)
    assert sorted((v.split, v.example_id, v.annotator, v.label, v.tool) for v in back) == sorted(
        (v.split, v.example_id, v.annotator, v.label, "argilla") for v in HUMAN)


def test_argilla_v1_feedback_records_import(tmp_path: Path) -> None:
    recs = [{"external_id": "2", "fields": {"text": "ünïcode ✓ text"},
             "responses": [{"values": {"label": {"value": "other"}}, "user_id": "u-1", "status": "submitted",
                            "updated_at": "2026-11-30T09:00:00"},
                           {"values": {"label": {"value": "ham"}}, "user_id": "u-2", "status": "discarded"}],
             "suggestions": [{"question_name": "label", "value": "ham", "score": 0.6}]}]
    path = tmp_path / "v1.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs), encoding="utf-8")
    assert argilla.read_annotations(path, TASK, text_ids={"ünïcode ✓ text": "2"}) == [
        HumanVote("2", 2, "u-1", "2026-11-30T09:00:00", "argilla", None)]


def _answered(tasks: list[dict], label: str) -> list[dict]:
    """Label Studio JSON tasks each answered ``label`` by one annotator."""
    return [{**t, "id": i + 1, "annotations": [{"completed_by": 7, "created_at": "2026-11-30T11:00:00Z",
                                                "result": [{"from_name": "label", "to_name": "text", "type": "choices",
                                                            "value": {"choices": [label]}}]}]}
            for i, t in enumerate(tasks)]


def test_imported_answers_keep_the_machine_label_the_export_showed(tmp_path: Path) -> None:
    """Imported answers had no shown label, so the report's comparison (answers vs the label shown) left them out.
    Each answer now keeps the label polarlab exported for its row: Label Studio's data.shown_label (JSON-MIN keeps
    it; its `label` key is the answer), an older export's data.label, or the polarlab-* prediction; Argilla's
    polarlab-* suggestion (v2 and v1). A row exported with the reviewers' label has nothing to compare with."""
    tasks = label_studio.to_tasks(make_data())          # rows 0, 2, 4 unreviewed: polar's ham, other, ham
    assert [t["data"]["shown_label"] for t in tasks] == ["ham", "other", "other", "ham", "ham"]
    path = tmp_path / "ls.json"
    path.write_text(json.dumps(_answered([tasks[0], tasks[1], tasks[2]], "spam")), encoding="utf-8")
    got = [(v.example_id, v.shown, v.shown_from) for v in label_studio.read_annotations(path, TASK)]
    assert got == [("0", 0, "export"), ("1", None, "people"), ("2", 2, "export")]
    # an older export (no shown_label), and one whose data kept only the prediction
    old = [{**t, "data": {k: v for k, v in t["data"].items() if k != "shown_label"}} for t in tasks]
    bare = [{**t, "data": {"text": t["data"]["text"], "polarlab_id": t["data"]["polarlab_id"],
                           "split": t["data"]["split"]}} for t in tasks]
    for variant in (old, bare):
        path.write_text(json.dumps(_answered([variant[2]], "spam")), encoding="utf-8")
        assert [(v.shown, v.shown_from) for v in label_studio.read_annotations(path, TASK)] == [(2, "export")]
    # JSON-MIN: the task's data flattened, the answer under "label"
    mini = [{**tasks[4]["data"], "label": "spam", "annotator": "eve"}, {"polarlab_id": "2", "split": "train",
                                                                        "label": "ham", "annotator": "eve"}]
    path.write_text(json.dumps(mini), encoding="utf-8")
    got = [(v.example_id, v.label, v.shown, v.shown_from) for v in label_studio.read_annotations(path, TASK)]
    assert got == [("1", 1, 0, "export"), ("2", 0, None, None)]        # the second row does not say
    # Argilla 2 (suggestions by question) and Argilla 1 (a list with question_name)
    recs = argilla.to_records(make_data())
    for r in recs:
        r["responses"] = {"label": [{"value": "spam", "user_id": "u"}]}
    path = tmp_path / "ar.json"
    path.write_text(json.dumps(recs), encoding="utf-8")
    assert [(v.shown, v.shown_from) for v in argilla.read_annotations(path, TASK)] == [
        (0, "export"), (None, "people"), (2, "export"), (None, "people"), (0, "export")]
    v1 = [{"external_id": "2", "fields": {"text": "x"}, "responses": [{"values": {"label": {"value": "spam"}},
                                                                       "user_id": "u"}],
           "suggestions": [{"question_name": "label", "value": "other", "agent": "polarlab-snorkel"}]}]
    path.write_text(json.dumps(v1), encoding="utf-8")
    assert [(v.shown, v.shown_from) for v in argilla.read_annotations(path, TASK)] == [(2, "export")]


def test_imported_votes_go_to_the_project_state(tmp_path: Path) -> None:
    """Human answers become 'human' vote events (who, when, tool) — the review loop's kind of vote."""
    from polarlab.export.project import add_human_votes, human_votes_from_state
    from polarlab.state import ProjectState

    class P:  # the two attributes add_human_votes reads
        state_dir = tmp_path / "state"

    votes = label_studio.read_annotations(_ls_export_from_sdk(tmp_path), TASK)
    assert add_human_votes(P, votes) == 2
    state = ProjectState(P.state_dir, readonly=True)
    try:
        ev = state.vote_events(kind="human")
        assert ev["source"].tolist() == ["human", "human"] and ev["who"].tolist() == ["label-studio-user-3",
                                                                                        "label-studio-user-4"]
        back = human_votes_from_state(state)
    finally:
        state.close()
    assert [(v.split, v.example_id, v.label, v.annotator, v.tool) for v in back] == [
        (v.split, v.example_id, v.label, v.annotator, v.tool) for v in votes]
    assert back[0].time == "2026-11-30T11:00:00+00:00"
    # an undo (value -1, as the review loop writes it) removes the answer
    s = ProjectState(P.state_dir)
    s.add_vote_event("test", "0", "human", -1, kind="human", who="label-studio-user-4")
    assert [v.example_id for v in human_votes_from_state(s)] == ["1"]
    s.close()


def test_imported_shown_labels_are_stored_and_read_back(tmp_path: Path) -> None:
    """The shown label travels through the project state with the answer; an answer whose file did not carry it
    gets the row's machine label when it is imported (marked "import")."""
    from polarlab.export.project import ProjectLabels, add_human_votes, human_votes_from_state
    from polarlab.state import ProjectState

    class P:  # the attribute add_human_votes reads
        state_dir = tmp_path / "state"

    known = ProjectLabels(LabeledData(TASK, IDS, TEXTS, PROBA, split=SPLITS), np.full(5, -1))
    votes = [HumanVote("2", 1, "eve", "2026-11-30T12:00:00+00:00", "label_studio", "train", 2, "export"),
             HumanVote("1", 0, "eve", "2026-11-30T12:01:00+00:00", "label_studio", "test"),
             HumanVote("0", 1, "eve", "2026-11-30T12:02:00+00:00", "argilla", "test", None, "people")]
    assert add_human_votes(P, votes, known) == 3
    with ProjectState(P.state_dir) as state:      # and an import by an older polarlab: the tool in note, alone
        state.add_vote_event("train", "0", "human", 2, kind="human", who="old", note="argilla")
        back = human_votes_from_state(state)
    assert [(v.example_id, v.tool, v.shown, v.shown_from) for v in back] == [
        ("2", "label_studio", 2, "export"), ("1", "label_studio", 0, "import"), ("0", "argilla", None, "people"),
        ("0", "argilla", None, None)]


def test_project_labels_from_the_state(tmp_path: Path) -> None:
    """When the project state holds the run (examples, votes, the final method's distributions, events),
    exports read it: review answers, corrections and the sources' votes all land in the provenance."""
    import pandas as pd

    from polarlab.export.project import load_project_labels
    from polarlab.project import Project
    from polarlab.state import ProjectState

    proj = Project(path=tmp_path / "polarlab.toml", task=TASK, data={}, sources=[],
                   labelmodel={"methods": ["mv", "polar"], "final": "polar"}, output_dir=tmp_path / "out",
                   state_dir=tmp_path / "state")
    state = ProjectState(proj.state_dir)
    rows = {"train": [0, 1, 2], "test": [3, 4]}
    for split, idx in rows.items():
        state.put_examples(split, pd.DataFrame({"id": [IDS[i] for i in idx], "text": [TEXTS[i] for i in idx],
                                                "label": [0, 1, 2] if split == "train" else [1, -1]}))
        for j, name in enumerate(VOTES.names):
            state.put_source_votes(split, name, VOTES.L[idx, j], key=f"{split}-{name}", position=j)
        state.put_distribution("polar", split, PROBA[idx])
        state.put_distribution("mv", split, np.full((len(idx), 3), 1 / 3))
    state.add_vote_event("train", "2", "llm", 2, kind="correction", strategy="fewshot")
    state.add_vote_event("train", "1", "human", 2, kind="human", who="bob")
    state.close()

    got = load_project_labels(proj)
    assert got.origin == "state" and got.splits == ["train", "test"]
    assert got.gold.tolist() == [0, 1, 2, 1, -1]
    np.testing.assert_allclose(got.data.proba, PROBA)
    assert got.data.votes.names == ["kw", "llm"]                      # the human column is not a source
    frame = got.data.frame()
    assert frame["label"].tolist() == ["ham", "other", "other", "spam", "ham"]
    prov = [json.loads(p) for p in frame["provenance"]]
    assert prov[1]["human"][0]["annotator"] == "bob" and frame["label_source"][1] == "human"
    assert prov[2]["corrections"] == [{"source": "llm", "strategy": "fewshot", "before": "other", "after": "other"}]
    assert prov[0]["sources"] == {"kw": "ham"}


def test_argilla_bad_json_line_names_its_line(tmp_path: Path) -> None:
    """A JSON Lines export with a broken line: the file and its 1-based line, not a 0-based 'row'."""
    path = tmp_path / "records.jsonl"
    path.write_text('{"fields": {"text": "a"}}\n{broken\n', encoding="utf-8")
    with pytest.raises(DataError) as e:
        argilla.read_records(path)
    assert str(e.value).startswith(f"file {path}, line 2: invalid JSON")
