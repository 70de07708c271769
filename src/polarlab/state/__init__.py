"""The saved state of a project: what every stage read and wrote, in one place.

A project's ``state_dir`` (``[project] state_dir``, default ``.polarlab`` beside the project file) holds
``state.sqlite`` (SQLite in WAL mode; one transaction per stage result) and ``artifacts/`` (NPY arrays and
Parquet tables named by the SHA-256 of their bytes, referenced from the database). Nothing but
:class:`ProjectState` touches these files. The schema version is stored; an older state is migrated on
open, a newer one refused with a clear message (:mod:`polarlab.state.schema`).

Usage::

    from polarlab.state import ProjectState, content_hash

    state = ProjectState("project/.polarlab")
    state.put_examples("train", dataset.frame)                 # Parquet; returns its content hash
    state.put_source_votes("train", "kw_subscribe", votes, key=content_hash(table, data_hash), position=0)
    L, names = state.votes("train")                            # (n, m) matrix, vote events applied

    # a reviewer's vote, and a correction of an LLM answer: events with provenance
    state.add_vote_event("train", "ex-17", "human", 1, kind="human", who="alice")
    state.add_vote_event("train", "ex-17", "gemma", 0, kind="correction", strategy="fewshot")
    state.vote_events("train")      # id, split, example_id, source, value, previous, kind, who, strategy, note, created

    state.put_distribution("polar", "test", proba)             # (n, k) per method and split
    state.put_features(content_hash("embedding", texts), X)    # (n, d) by content hash
    state.put_risk("gemma", "test", risk)                      # (n,) POLAR risk of each answer

    with state.transaction():                                  # a stage's result, all or nothing
        state.put_distribution("mv", "train", P)
        state.record_stage("label_models", config_hash=c, inputs={"matrix": h}, output_hash=o,
                           seconds=1.2, report={"methods": ["mv"]})
    state.is_current("label_models", c, {"matrix": h})        # -> True: the stage can be skipped
    state.check().ok                                           # integrity: database + every artifact's hash

The stage runner (:mod:`polarlab.stages`) is the usual writer; the review app, end models and exports read and
extend the same state.
"""
from .artifacts import ArtifactStore
from .schema import SCHEMA_VERSION
from .store import EVENT_KINDS, IntegrityReport, ProjectState, SourceVotes, StageRecord, content_hash

__all__ = ["ArtifactStore", "EVENT_KINDS", "IntegrityReport", "ProjectState", "SCHEMA_VERSION", "SourceVotes",
           "StageRecord", "content_hash"]
