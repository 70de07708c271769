"""``polarlab review`` of a linking project: every link in the review queue, riskiest first; a reviewer picks the
right entity among the mention's top candidates, or "none of these".

:func:`open_review` reuses the project's last linking run when its labels and candidates files are current
(``polarlab status``'s test: same project tables, inputs and files), else runs it (``polarlab run``; the LLM
linker's answers and the encoder's vectors are cached, so nothing paid is asked twice). Each mention becomes one
:class:`polarlab.review.store.Item` of the project state's review store: its sentence with the mention marked,
``choices`` = the harmonizer's top candidates (id and name, best first; the first is the labels file's link)
and "none of these" last, the machine's answer = choice 0, its risk = the link's POLAR risk, each linker's top
link beside it, and with the LLM linker ([linking.llm]) its link and that link's POLAR risk on a line of its own
(the page's and the terminal's LLM line). Random checks are drawn per risk stratum, as in the classification review,
for the estimate. No refits (the self-paced rounds are for classification projects). Besides the choices a reviewer
may answer with any id of the project's ontology (:class:`OntologyIds`, the session's ``lookup``).

:func:`reviewed_links` is the labels file with the answers applied (``polarlab review status --export``).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import DataError
from ..review.fixed import (FIXED_SETTINGS, FixedQueue, check_config, fill, no_slices, saved_outputs,
                            why_fixed, with_audits)
from ..review.kinds import ReviewKind
from ..review.store import Item, ReviewStore

NONE_OF_THESE = "none of these"
#: the labels file's column of the LLM linker's top link ([linking.llm])
LLM_VOTE = "vote_llm"
#: what the page and the terminal ask for when a reviewer answers with an id outside the choices (payload ``other``)
OTHER_PROMPT = "any id of the project's ontology"


class OntologyIds:
    """Any id of a linking project's ontology as a review answer (the session's ``lookup``, for the app's and the
    terminal's typed ids): ``lookup(entity_id)`` -> the choice it stands for (``id``, ``name``, ``xrefs`` in the
    project's ``output_xrefs``, ``label``), which the store appends to the item's choices.

    The ontology is the one the project's run loaded (:func:`polarlab.linking.run.project_ontology`), read once, on
    the first typed id (a big ontology takes seconds; a review that types none never reads it), then kept. An id is
    matched as the ontology writes it, else ignoring case.

    Raises (on call):
        InputError: an id the ontology does not have (the app answers 422 with its message).
    """

    def __init__(self, project_file: Path) -> None:
        self.project_file = Path(project_file)
        self._lock = threading.Lock()
        self._ids: dict[str, dict[str, Any]] | None = None
        self._folded: dict[str, str] = {}
        self._files: str = ""

    def _load(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._ids is None:
                from .choices import xrefs_of
                from .config import load_linking_project
                from .run import project_ontology

                project = load_linking_project(self.project_file)
                onto = project_ontology(project, self.project_file.parent)
                prefixes = {p.upper() for p in project.linking.output_xrefs}
                self._ids = {e: {"id": e, "name": t.name, "xrefs": xrefs_of(onto, e, prefixes),
                                 "label": f"{t.name} ({e})", "typed": True} for e, t in onto.terms.items()}
                self._folded = {e.casefold(): e for e in self._ids}
                self._files = ", ".join(str(f) for f in onto.files)
            return self._ids

    def __call__(self, entity_id: str) -> dict[str, Any]:
        from ..errors import InputError

        ids = self._load()
        key = (entity_id or "").strip()
        key = key if key in ids else self._folded.get(key.casefold(), key)
        if key not in ids:
            example = next(iter(ids), "")
            raise InputError(f"{entity_id.strip()!r} is not an id of the project's ontology ({len(ids)} terms in "
                             f"{self._files})", column="other",
                             fix=f"type an id as the ontology writes it (e.g. {example}), or pick one of the item's "
                                 "choices")
        return dict(ids[key])


def _paths(project_file: Path):
    from .job import paths

    return paths(Path(project_file))


def review_store_path(project_file: Path) -> Path:
    """The review's SQLite file: the linking project's state database (beside its runs)."""
    from ..state.store import DB_NAME

    return _paths(project_file).state_dir / DB_NAME


def read_candidates(path: Path) -> list[dict]:
    """The candidates file (:func:`polarlab.linking.choices.candidates_frame`, JSON lines) as dicts."""
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def item_ids(frame: pd.DataFrame) -> list[str]:
    """Each labels row's review id ``<document id>:<start>-<end>`` (``#2``, ``#3``... on a repeated span)."""
    seen: dict[str, int] = {}
    out = []
    for d, s, e in zip(frame["document_id"].astype(str), frame["start"], frame["end"]):
        key = f"{d}:{int(s)}-{int(e)}"
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return out


def link_payloads(frame: pd.DataFrame, candidates: list[dict], where: Path) -> list[dict]:
    """What a reviewer sees for each link (see the module); ``where`` names the candidates file in errors."""
    if len(candidates) != len(frame):
        raise DataError(f"{len(candidates)} mentions in the candidates file, {len(frame)} in the labels file",
                        file=str(where), fix="run the project again (polarlab run) so both come from one run")
    votes = [c for c in frame.columns if c.startswith("vote_")]
    out = []
    for i, (row, cand) in enumerate(zip(frame.to_dict("records"), candidates)):
        if (str(cand["document_id"]), int(cand["start"])) != (str(row["document_id"]), int(row["start"])):
            raise DataError(f"row {i + 1} of the candidates file is another mention than the labels file's",
                            file=str(where), fix="run the project again (polarlab run) so both come from one run")
        names = {c["id"]: c["name"] for c in cand["candidates"]}
        choices = [{**c, "label": f"{c['name']} ({c['id']})"} for c in cand["candidates"]]
        choices.append({"id": "", "name": "", "xrefs": "", "label": NONE_OF_THESE})
        a = int(cand["sentence_start"])
        llm = llm_answer(cand, row, names)
        rules = [{"name": v[len("vote_"):], "label": f"{names.get(row[v], row[v])} ({row[v]})" if row[v] else
                  "no link", "explain": None} for v in votes if llm is None or v != LLM_VOTE]
        out.append({"text": cand["sentence"], "entities": [{"start": int(row["start"]) - a, "end": int(row["end"]) - a}],
                    "mention": str(row["mention"]), "document_id": str(row["document_id"]), "choices": choices,
                    "other": OTHER_PROMPT + (f", e.g. {choices[0]['id']}" if len(choices) > 1 else ""),
                    "label": 0, "probability": float(row["probability"]), "risk": float(row["risk"]),
                    "labels_file": None, "llm": llm, "rules": rules, "rules_title": "Each linker's top link:",
                    "rule_kind": "linker", "corrections": []})
    return out


def llm_answer(cand: dict, row: dict, names: dict[str, str]) -> dict | None:
    """The LLM linker's answer for the page's and the terminal's LLM line (``name``, ``answer``, ``risk``), or None
    without the LLM linker: from the candidates file's ``llm`` (its link and POLAR risk), else (a run written before
    that field) from the labels file's ``vote_llm`` column (named when it is one of the candidates ``names``: id ->
    name), with no risk."""
    if "llm" in cand:
        got = cand["llm"]
        return {"name": "linker", "answer": f"{got['name']} ({got['id']})" if got else "no link",
                "risk": None if not got else got.get("risk")}
    if LLM_VOTE in row:
        vote = row[LLM_VOTE]
        answer = (f"{names[vote]} ({vote})" if vote in names else str(vote)) if vote else "no link"
        return {"name": "linker", "answer": answer, "risk": None}
    return None


def linker_disagreement(frame: pd.DataFrame) -> np.ndarray:
    """(n,) share of the linkers (``vote_*`` columns) whose top link is not the labels file's link (abstaining
    counts as not agreeing); 0 without vote columns."""
    votes = [c for c in frame.columns if c.startswith("vote_")]
    if not votes:
        return np.zeros(len(frame))
    link = frame["linked_id"].astype(str).to_numpy()
    return np.mean([frame[c].astype(str).to_numpy() != link for c in votes], axis=0)


def link_items(frame: pd.DataFrame, payloads: list[dict]) -> list[Item]:
    """Items riskiest first (``priority`` = n - rank by risk, ties (equal but for float noise) broken by
    :func:`linker_disagreement`, as :func:`polarlab.review.queue.review_order` does)."""
    from ..review.queue import review_order

    risk = frame["risk"].to_numpy(dtype=np.float64)
    n = len(frame)
    priority = np.empty(n)
    priority[review_order(risk, linker_disagreement(frame))] = n - np.arange(n)
    ids = item_ids(frame)
    return [Item(i, ids[i], "risk", float(priority[i]), 0, float(risk[i]), payloads[i]) for i in range(n)]


def open_review(project_file: Path, config, progress: bool = False) -> FixedQueue:
    """Fill (or resume, :func:`polarlab.review.fixed.fill`) the review of a linking project; see the module."""
    from ..review.estimate import StoppingRule
    from .job import read_links

    project_file = Path(project_file)
    check_config(REVIEW, config)
    outputs = saved_outputs(project_file, "linking", ("labels", "candidates"), progress)
    frame = read_links(outputs["labels"])
    payloads = link_payloads(frame, read_candidates(outputs["candidates"]), outputs["candidates"])
    allowed = StoppingRule(config.target, config.budget).allowed(len(frame))
    store = ReviewStore(review_store_path(project_file))
    fill(store, with_audits(link_items(frame, payloads), config.audit_share, allowed), config, labels=[],
         project=str(project_file), task=f"linking · {project_file.name}", kind="linking")
    return FixedQueue(store, lookup=OntologyIds(project_file))


def reviewed_links(project_file: Path, store: ReviewStore) -> pd.DataFrame:
    """The last run's labels file with the answers applied: where people answered, ``linked_id`` / ``name`` /
    ``xrefs`` are the chosen candidate's ("none of these": empty, no link), ``probability`` the share of answers
    that agree and ``risk`` the rest; ``source`` says ``human`` or ``machine``, ``reviewers`` who answered, and
    ``machine_linked_id`` / ``machine_name`` keep the run's link."""
    from ..jobs.export import need
    from ..jobs.report import last_outputs
    from .job import JOB, read_links

    return apply_link_answers(read_links(need(last_outputs(Path(project_file), JOB)[1], "labels")), store)


def apply_link_answers(frame: pd.DataFrame, store: ReviewStore) -> pd.DataFrame:
    """A labels table (:func:`polarlab.linking.run.labels_frame`) with ``store``'s answers applied, matched by
    mention (:func:`item_ids`); see :func:`reviewed_links`."""
    items = {it.item_id: it for it in store.items()}
    human = store.human_labels(max((it.row for it in items.values()), default=-1) + 1)[0]
    given: dict[int, list[tuple[str, int]]] = {}      # row -> (reviewer, answer) of its valid answers
    for a in store.answers():
        if a["answer"] is not None:
            given.setdefault(a["row"], []).append((a["reviewer"], int(a["answer"])))
    out = frame.copy()
    out["machine_linked_id"], out["machine_name"] = frame["linked_id"], frame["name"]
    out["source"], out["reviewers"] = "machine", ""
    for i, key in enumerate(item_ids(frame)):
        it = items.get(key)
        if it is None or human[it.row] < 0:
            continue
        choice = it.payload["choices"][int(human[it.row])]
        agree = float(np.mean([a == human[it.row] for _, a in given[it.row]]))
        out.loc[out.index[i], ["linked_id", "name", "xrefs", "probability", "risk", "source", "reviewers"]] = [
            choice["id"], choice["name"], choice.get("xrefs", ""), agree, 1.0 - agree, "human",
            ",".join(r for r, _ in given[it.row])]
    return out


REVIEW = ReviewKind(name="linking", open=open_review, store_path=review_store_path, labels=reviewed_links,
                    scope=no_slices("linking"), honours=FIXED_SETTINGS,
                    why_not=why_fixed("links"))
