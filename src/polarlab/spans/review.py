"""The review queue for spans: every output span is a review item, riskiest first.

:func:`queue_spans` puts the spans of :func:`polarlab.spans.spans_by_risk` into a
:class:`polarlab.review.store.ReviewStore` (the same SQLite queue, leases, answers, web page and
terminal fallback as the classification review): one item per span, ``priority`` = its POLAR
risk, the payload the span's sentence with the span highlighted and which sources proposed it.
A reviewer answers :data:`SPAN_ANSWERS` (0 = wrong span, 1 = right span; the machine's label is
1). :func:`reviewed_spans` applies the answers: spans a person called wrong are dropped, every
other span is kept.

``polarlab review PROJECT`` of a ``[task] kind = "spans"`` project (:data:`REVIEW`) fills that queue from the
project's last run (:func:`open_review`; run first when its spans file is not current) and ``polarlab review status
--export`` writes its spans with the answers applied (:func:`reviewed_span_table`). No refits.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..review.fixed import (FIXED_SETTINGS, FixedQueue, check_config, fill, no_slices, saved_outputs,
                            why_fixed, with_audits)
from ..review.kinds import ReviewKind
from ..review.store import Item, ReviewStore
from .correct import _context_range, spans_by_risk
from .types import Span, SpanDoc

SPAN_ANSWERS = ("wrong span", "right span")


def span_item_id(doc: SpanDoc, span: Span) -> str:
    """A span's stable review id: ``<doc id>:<start>-<end>:<label>``."""
    return f"{doc.id}:{span.start}-{span.end}:{span.label}"


def span_review_items(docs: Sequence[SpanDoc], spans: Sequence[Sequence[Span]], probs: Sequence[np.ndarray],
                      proposals: Sequence[Sequence[Sequence[Span]]] | None = None,
                      sources: Sequence[str] = ()) -> list[Item]:
    """One :class:`Item` per output span, riskiest first (``row`` = rank).

    Args:
        docs: the documents; ``spans[i]`` / ``probs[i]`` (aligned with ``sorted(spans[i])``) belong to ``docs[i]``.
        proposals: optional, per document per source the spans each source proposed
            (``SpanVotes.proposals``), to show which sources proposed exactly this span.
        sources: the source names of ``proposals``' columns.
    """
    items = []
    for row, r in enumerate(spans_by_risk(spans, probs)):
        d = docs[r.doc]
        a, b = _context_range(d, r.span)
        rules = []
        if proposals is not None:
            rules = [{"name": name, "label": SPAN_ANSWERS[1], "explain": "proposed this span"}
                     for name, P in zip(sources, proposals[r.doc]) if r.span.key in {s.key for s in P}]
        payload = {"text": d.text[a:b], "entities": [{"start": r.span.start - a, "end": r.span.end - a}],
                   "doc": d.id, "start": r.span.start, "end": r.span.end, "span_label": r.span.label,
                   "mention": d.text[r.span.start:r.span.end], "label": 1, "probability": r.probability,
                   "risk": r.risk, "llm": None, "rules": rules, "corrections": []}
        items.append(Item(row, span_item_id(d, r.span), "risk", r.risk, 1, r.risk, payload))
    return items


def queue_spans(store: ReviewStore, docs: Sequence[SpanDoc], spans: Sequence[Sequence[Span]],
                probs: Sequence[np.ndarray], proposals=None, sources: Sequence[str] = ()) -> int:
    """Put every span into ``store`` as a review item (riskiest first) and set the answer labels;
    returns the number of items."""
    items = span_review_items(docs, spans, probs, proposals, sources)
    store.set_meta(labels=list(SPAN_ANSWERS))
    store.put_items(items)
    return len(items)


def reviewed_spans(store: ReviewStore, docs: Sequence[SpanDoc], spans: Sequence[Sequence[Span]]
                   ) -> list[list[Span]]:
    """``spans`` with the people's answers applied: a span whose (most frequent) answer is 0 is dropped."""
    items = store.items()
    human = store.human_labels(max((it.row for it in items), default=-1) + 1)[0]
    wrong = {it.item_id for it in items if human[it.row] == 0}
    return [[s for s in S if span_item_id(d, s) not in wrong] for d, S in zip(docs, spans)]


# ---------------------------------------------------------------- `polarlab review` of a spans project
def review_store_path(project_file: Path) -> Path:
    """The review's SQLite file: the spans project's state database (beside its runs)."""
    from ..state.store import DB_NAME
    from .job import paths

    return paths(Path(project_file)).state_dir / DB_NAME


def run_spans_with_probs(path: Path) -> tuple[list[SpanDoc], list[np.ndarray]]:
    """The documents of a run's spans file (their ``spans`` = the run's output) and each document's span
    probabilities, aligned with ``sorted(doc.spans)``.

    Raises:
        DataError: the file carries no probabilities (PubTator or CoNLL output: use ``.jsonl``).
    """
    from ..errors import DataError
    from .job import read_run_spans

    docs, prob = read_run_spans(Path(path))
    probs = []
    for d in docs:
        p = [prob.get((d.id, s.start, s.end, s.label)) for s in sorted(d.spans)]
        if any(x is None for x in p):
            raise DataError("the spans file has no probability for its spans, so they cannot be ordered by risk",
                            file=str(path), fix='write the spans as JSON lines: [output] spans = "spans.jsonl"')
        probs.append(np.asarray(p, dtype=np.float64))
    return docs, probs


def open_review(project_file: Path, config, progress: bool = False) -> FixedQueue:
    """Fill (or resume) the review of a spans project: every span of its last run (run first when not current),
    riskiest first, with random checks for the estimate; answers :data:`SPAN_ANSWERS`."""
    from ..review.estimate import StoppingRule

    project_file = Path(project_file)
    check_config(REVIEW, config)
    docs, probs = run_spans_with_probs(saved_outputs(project_file, "spans", ("spans",), progress)["spans"])
    items = span_review_items(docs, [d.spans for d in docs], probs)
    allowed = StoppingRule(config.target, config.budget).allowed(len(items))
    store = ReviewStore(review_store_path(project_file))
    fill(store, with_audits(items, config.audit_share, allowed), config, labels=list(SPAN_ANSWERS),
         project=str(project_file), task=f"spans · {project_file.name}", kind="spans")
    return FixedQueue(store)


def reviewed_span_table(project_file: Path, store: ReviewStore) -> pd.DataFrame:
    """The last run's spans (one row each, as ``polarlab export --format csv`` writes them) with the answers applied:
    a span people called wrong is dropped; ``source`` is ``human`` for a span people confirmed, else ``machine``;
    ``reviewers`` who answered."""
    from ..jobs.export import need
    from ..jobs.report import last_outputs
    from .job import JOB, read_run_spans, span_table

    docs, prob = read_run_spans(need(last_outputs(Path(project_file), JOB)[1], "spans"))
    items = {it.item_id: it for it in store.items()}
    human = store.human_labels(max((it.row for it in items.values()), default=-1) + 1)[0]
    who: dict[int, list[str]] = {}
    for a in store.answers():
        if a["answer"] is not None:
            who.setdefault(a["row"], []).append(a["reviewer"])
    table = span_table(docs, prob)
    keys = [span_item_id(d, s) for d in docs for s in d.spans]       # span_table's row order
    rows = [items.get(k) for k in keys]
    answer = np.array([-1 if it is None else human[it.row] for it in rows], dtype=np.int64)
    table["source"] = np.where(answer == 1, "human", "machine")
    table["reviewers"] = [",".join(who.get(it.row, [])) if it is not None and answer[i] >= 0 else ""
                          for i, it in enumerate(rows)]
    return table[answer != 0].reset_index(drop=True)


REVIEW = ReviewKind(name="spans", open=open_review, store_path=review_store_path, labels=reviewed_span_table,
                    scope=no_slices("spans"), honours=FIXED_SETTINGS,
                    why_not=why_fixed("spans"))
