"""`polarlab review` of a linking project: real linking runs of a tiny ontology and corpus (exact + sparse linkers,
POLAR), the real SQLite store, the real FastAPI app and CLI; the reviewer picks an entity among the candidates."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from polarlab.cli.main import app
from polarlab.errors import ConfigError
from polarlab.jobs.status import read_runs
from polarlab.linking.review import NONE_OF_THESE
from polarlab.review.app import TOKEN_HEADER, create_app
from polarlab.review.kinds import review_kind
from polarlab.review.session import ReviewConfig
from polarlab.review.store import ReviewStore
from polarlab.review.tui import describe

TOKEN = "tok"


def _runs(project) -> int:
    return len([r for r in read_runs(project.parent / ".polarlab") if r["status"] == "ok"])


def _links(project) -> pd.DataFrame:
    return pd.read_csv(project.parent / "out" / "links.csv", dtype={"document_id": str}, keep_default_na=False)


def test_linking_review_queue_answers_and_export(link_project):
    """Every link is an item, riskiest first, with the run's top candidates (+ "none of these") as its choices; an
    answer through the app replaces the exported link; an index outside the item's choices is a 422."""
    res = CliRunner().invoke(app, ["run", str(link_project)])
    assert res.exit_code == 0, res.output
    session = review_kind("linking").open(link_project, ReviewConfig(audit_share=0.0, budget=50), False)
    assert _runs(link_project) == 1                        # the saved run is reused, not redone
    links, items = _links(link_project), session.store.items()
    assert len(items) == len(links) == 7
    by_priority = sorted(items, key=lambda it: -it.priority)
    risk = np.round([it.risk for it in by_priority], 6)      # riskiest first; ties: the linkers that disagree first
    assert (np.diff(risk) <= 0).all()
    votes = links[["vote_exact", "vote_sparse"]].ne(links["linked_id"], axis=0).mean(axis=1).to_numpy()
    ties = [votes[it.row] for it in by_priority]
    assert all(ties[i] >= ties[i + 1] for i in range(len(ties) - 1) if risk[i] == risk[i + 1])
    assert votes.max() > votes.min() and ties[0] == votes.max()      # the fixture has a link the linkers dispute
    for it in items:
        row = links.iloc[it.row]
        choices = it.payload["choices"]
        assert 2 <= len(choices) <= 9 and choices[-1]["label"] == NONE_OF_THESE
        assert choices[0]["id"] == row["linked_id"] and it.label == 0
        e = it.payload["entities"][0]
        assert it.payload["text"][e["start"]:e["end"]] == row["mention"]

    client = TestClient(create_app(session.store, TOKEN))
    headers = {TOKEN_HEADER: TOKEN}
    first = client.get("/api/next", params={"reviewer": "ann"}, headers=headers).json()["item"]
    assert first["row"] == by_priority[0].row
    pick = first["choices"][1]                             # another candidate than the machine's link
    r = client.post("/api/answer", json={"reviewer": "ann", "row": first["row"], "label": 1}, headers=headers)
    assert r.status_code == 200, r.text
    second = client.get("/api/next", params={"reviewer": "ann"}, headers=headers).json()["item"]
    k = len(second["choices"])
    r = client.post("/api/answer", json={"reviewer": "ann", "row": second["row"], "label": k}, headers=headers)
    assert r.status_code == 422 and f"not one of item {second['row']}'s {k} choices" in r.json()["error"]
    r = client.post("/api/answer", json={"reviewer": "ann", "row": second["row"], "label": k - 1}, headers=headers)
    assert r.status_code == 200, r.text

    out = link_project.parent / "reviewed.csv"
    res = CliRunner().invoke(app, ["review", "status", str(link_project), "--export", str(out), "--json"])
    assert res.exit_code == 0, res.output
    st = json.loads(res.stdout.strip().splitlines()[-1])
    assert st["reviewed"] == 2 and st["items"] == 7
    got = pd.read_csv(out, dtype={"document_id": str}, keep_default_na=False)
    assert got.loc[first["row"], ["linked_id", "name", "source", "reviewers"]].tolist() == [
        pick["id"], pick["name"], "human", "ann"]
    assert got.loc[first["row"], "machine_linked_id"] == links.loc[first["row"], "linked_id"] != pick["id"]
    assert got.loc[second["row"], ["linked_id", "name", "source"]].tolist() == ["", "", "human"]   # none of these
    rest = ~got.index.isin([first["row"], second["row"]])
    assert (got.loc[rest, "source"] == "machine").all()
    assert got.loc[rest, "linked_id"].tolist() == links.loc[rest, "linked_id"].tolist()


def test_linking_review_runs_reuses_and_resumes(link_project):
    """No run yet: `polarlab review` runs the project; again: reuses it; after a change to the project's tables: runs
    it again, keeping the answers and the choices the reviewer saw. The terminal review answers by number."""
    res = CliRunner().invoke(app, ["review", str(link_project), "--tui", "--reviewer", "bob", "--no-progress"],
                             input="2\nq\n")
    assert res.exit_code == 0, res.output
    assert _runs(link_project) == 1 and "1 answers stored" in res.output
    assert f"polarlab review status {link_project} --export FILE" in res.output    # the budget (1 of 7) is spent
    kind = review_kind("linking")
    store = kind.open(link_project, ReviewConfig(), False).store
    assert _runs(link_project) == 1
    answered = [it for it in store.items() if store.human_labels(7)[0][it.row] == 1]
    assert len(answered) == 1
    seen = answered[0].payload["choices"]
    link_project.write_text(link_project.read_text().replace("self_train_risk = 0\n", "self_train_risk = 0\nreview = 2\n"))
    store = kind.open(link_project, ReviewConfig(), False).store
    assert _runs(link_project) == 2
    again = next(it for it in store.items() if it.item_id == answered[0].item_id)
    assert again.payload["choices"] == seen and store.status()["reviewed"] == 1
    got = kind.labels(link_project, store)
    assert got.loc[again.row, "linked_id"] == seen[1]["id"] and got.loc[again.row, "reviewers"] == "bob"


def test_review_refuses_what_it_cannot_review(link_project, tmp_path):
    """A relevance project (no review) and --split on a linking project: one clear error each, before any run."""
    rel = tmp_path / "rel.toml"
    rel.write_text('[task]\nkind = "relevance"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["review", str(rel), "--tui", "--reviewer", "x"])
    assert res.exit_code != 0 and "task.kind" in res.output and 'does not review [task] kind = "relevance"' in res.output
    res = CliRunner().invoke(app, ["review", str(link_project), "--tui", "--reviewer", "x", "--split", "train"])
    assert res.exit_code != 0 and "--split" in res.output and "no splits" in res.output
    assert _runs(link_project) == 0


@pytest.mark.parametrize("options", [["--batch-size", "5"], ["--batch-size", "20"], ["--schedule", "list:0.1,0.2"],
                                     ["--accepted", "lock"], ["--split", "train"],
                                     ["--slices", "slices.py", "--slice", "short"]])
def test_review_refuses_the_options_a_linking_review_does_not_use(link_project, options):
    """Each `review serve` option the fixed queue does not use (given on the command line, even at its default value):
    one error naming it and why, before the project runs; nothing is silently ignored."""
    res = CliRunner().invoke(app, ["review", str(link_project), "--tui", "--reviewer", "x", *options])
    assert res.exit_code != 0
    out = " ".join(res.output.split())
    assert f"a linking review does not use {options[0]}" in out and "no self-paced refit rounds" in out, out
    assert f"Fix: leave out {options[0]}" in out
    assert _runs(link_project) == 0


def test_review_refuses_unused_settings_from_python_and_for_spans(link_project, tmp_path):
    """The same check for a Python caller (the settings that differ from ReviewConfig's defaults) and for a spans
    project (the kind's registry entry says what it uses)."""
    with pytest.raises(ConfigError, match="does not use --batch-size, --accepted") as e:
        review_kind("linking").open(link_project, ReviewConfig(batch_size=5, accepted="lock"), False)
    assert e.value.column == "--batch-size"
    assert _runs(link_project) == 0
    spans = tmp_path / "spans.toml"
    spans.write_text('[task]\nkind = "spans"\n', encoding="utf-8")
    res = CliRunner().invoke(app, ["review", str(spans), "--tui", "--reviewer", "x", "--schedule", "list:0.2"])
    assert res.exit_code != 0 and "a spans review does not use --schedule" in " ".join(res.output.split())


def test_linking_review_honours_budget_target_audits_and_double_review(link_project):
    """--budget, --target, --audit-share and --double-review are the fixed queue's own settings: they are kept."""
    res = CliRunner().invoke(app, ["review", str(link_project), "--tui", "--reviewer", "x", "--no-progress",
                                   "--budget", "3", "--target", "0.99", "--audit-share", "0.4", "--double-review"],
                             input="q\n")
    assert res.exit_code == 0, res.output
    store = review_kind("linking").open(link_project, ReviewConfig(budget=3, target=0.99, audit_share=0.4,
                                                                   reviews_per_item=2), False).store
    meta = store.meta()
    assert (meta["budget"], meta["target"], meta["audit_share"], meta["reviews_per_item"]) == (3, 0.99, 0.4, 2)
    assert sum(it.kind == "audit" for it in store.items()) == 2          # ceil(0.4 * 3) random checks


def test_linking_review_shows_the_llm_linkers_answer_and_its_risk(link_project, monkeypatch):
    """With the LLM linker (a registered scoring backend, as in test_linking_llm.py) each item's LLM line holds its
    link (the labels file's vote_llm) and that link's POLAR risk (from candidates.jsonl); the other linkers' top
    links stay in the list beside it. Without it, no LLM line."""
    from test_linking_llm import FakeBackend

    from polarlab.llm.backends import LLM_BACKENDS, BackendSettings, register_llm_backend

    class FakeSettings(BackendSettings):
        prefer: str = "carcinoma"

    monkeypatch.setattr("polarlab.llm.backends.LLM_BACKENDS", dict(LLM_BACKENDS))   # registered for this test only
    register_llm_backend("fake_review", FakeSettings, lambda cfg: FakeBackend(cfg.prefer))
    link_project.write_text(link_project.read_text().replace("[output]", '[linking.llm]\nbackend = "fake_review"\n'
                                                             "[output]"), encoding="utf-8")
    store = review_kind("linking").open(link_project, ReviewConfig(), False).store
    links = _links(link_project)
    cands = [json.loads(ln) for ln in (link_project.parent / "out" / "candidates.jsonl").read_text().splitlines()]
    assert "vote_llm" in links.columns and len(cands) == len(links)
    for it in store.items():
        vote, llm = links.loc[it.row, "vote_llm"], it.payload["llm"]
        want = cands[it.row]["llm"]
        assert llm["name"] == "linker" and ((vote == "" and want is None) or want["id"] == vote)
        assert llm["answer"] == ("no link" if want is None else f"{want['name']} ({vote})")
        assert llm["risk"] == (None if want is None else want["risk"]) and (want is None or 0 <= want["risk"] <= 1)
        assert [r["name"] for r in it.payload["rules"]] == ["exact", "sparse"]
    assert any(c["llm"] for c in cands)
    assert "LLM linker: " in describe(store.items()[0].payload | {"id": "x", "row": 0, "kind": "risk"}, [])


def test_linking_review_answer_with_any_ontology_id(link_project):
    """A reviewer answers with an ontology id outside the item's choices (`other`): it is checked against the ids of
    the ontology the project loaded (an unknown one is a 422 naming it, a label and an id together too), stored as
    one more choice of that item, and the export links the mention to it (id, name, xrefs). An id among the
    choices is that choice; a classification app (no lookup) refuses typed ids."""
    from polarlab.ontology import load_ontology

    session = review_kind("linking").open(link_project, ReviewConfig(audit_share=0.0, budget=50), False)
    onto = load_ontology(link_project.parent / "onto")
    client = TestClient(create_app(session.store, TOKEN, lookup=session.lookup))
    headers = {TOKEN_HEADER: TOKEN}
    first = client.get("/api/next", params={"reviewer": "ann"}, headers=headers).json()["item"]
    assert first["other"].startswith("any id of the project's ontology")
    outside = [e for e in onto.ids if e not in {c["id"] for c in first["choices"]}]
    assert outside, "the fixture's riskiest item should miss some ontology id among its choices"
    for body, why in (({"other": "DOID:999"}, "'DOID:999' is not an id of the project's ontology (6 terms in "),
                      ({"other": outside[0], "label": 0}, "a label or an other id, not both")):
        r = client.post("/api/answer", json={"reviewer": "ann", "row": first["row"], **body}, headers=headers)
        assert r.status_code == 422 and why in r.json()["error"], r.text
    assert session.store.status()["reviewed"] == 0
    r = client.post("/api/answer", json={"reviewer": "ann", "row": first["row"], "other": outside[0].lower()},
                    headers=headers)
    assert r.status_code == 200, r.text
    it = next(i for i in session.store.items() if i.row == first["row"])
    assert it.payload["choices"][:-1] == first["choices"] and it.payload["choices"][-1]["id"] == outside[0]
    second = client.get("/api/next", params={"reviewer": "ann"}, headers=headers).json()["item"]
    r = client.post("/api/answer", json={"reviewer": "ann", "row": second["row"], "other": second["choices"][1]["id"]},
                    headers=headers)
    assert r.status_code == 200 and session.store.human_labels(7)[0][second["row"]] == 1      # a choice's own id

    got = review_kind("linking").labels(link_project, session.store)
    term = onto.terms[outside[0]]
    assert got.loc[first["row"], ["linked_id", "name", "source", "reviewers"]].tolist() == [
        outside[0], term.name, "human", "ann"]
    assert got.loc[first["row"], "xrefs"] == "|".join(sorted(x for x in term.xrefs if x.startswith("MESH:")))
    assert got.loc[second["row"], "linked_id"] == second["choices"][1]["id"]

    plain = TestClient(create_app(session.store, TOKEN))
    third = plain.get("/api/next", params={"reviewer": "bob"}, headers=headers).json()["item"]
    r = plain.post("/api/answer", json={"reviewer": "bob", "row": third["row"], "other": outside[0]}, headers=headers)
    assert r.status_code == 422 and "takes no typed ids" in r.json()["error"]


def test_linking_review_terminal_types_an_ontology_id(link_project):
    """In the terminal, `o` then an id answers with it (an unknown id: "not saved", the same item again)."""
    res = CliRunner().invoke(app, ["review", str(link_project), "--tui", "--reviewer", "eve", "--no-progress",
                                   "--budget", "5"], input="o\nDOID:999\no\nDOID:6\nq\n")
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert "o=other id" in out and "'DOID:999' is not an id of the project's ontology" in out, out
    assert "1 answers stored" in out
    kind = review_kind("linking")
    store = kind.store_path(link_project)
    got = kind.labels(link_project, ReviewStore(store))
    assert got.loc[got["source"] == "human", ["linked_id", "name", "reviewers"]].values.tolist() == [
        ["DOID:6", "Duchenne muscular dystrophy", "eve"]]
