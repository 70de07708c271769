"""The classification review as a :class:`polarlab.review.kinds.ReviewKind` (the registry's default entry).

Text and relation projects: :func:`polarlab.review.session.open_session` runs the stage pipeline and fits the
self-paced loop (refits every batch); the export is :meth:`ReviewStore.final_labels`.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from .kinds import ReviewKind
from .store import ReviewStore


def open_review(project_file: Path, config, progress: bool):
    """Run the project and open (or resume) its review session."""
    from ..project import load_project
    from .session import open_session

    return open_session(load_project(project_file), config, progress=progress)


def review_store_path(project_file: Path) -> Path:
    from ..project import load_project
    from .session import store_path

    return store_path(load_project(project_file))


def final_labels(project_file: Path, store: ReviewStore) -> pd.DataFrame:
    return store.final_labels()


def scope(project_file: Path, store: ReviewStore, slices: Path | None, name: str | None) -> dict:
    """``status`` keywords for ``--slices/--slice``: the slice's item positions (none = the review's own scope)."""
    from ..errors import ConfigError
    from ..project import load_project
    from .session import slice_rows

    if (slices is None) != (name is None):
        raise ConfigError("--slices and --slice go together", column="--slice",
                          fix="pass both: --slices FILE.py --slice NAME (or neither)")
    if name is None:
        return {}
    meta = store.meta()
    ds = load_project(project_file).load_splits()[meta["split"]]
    ids = [it.item_id for it in store.items()]
    if [str(i) for i in ds.frame["id"]] != ids:
        raise ConfigError("the review holds other items than the project's data", file=str(store.path),
                          fix="run `polarlab review` again on this project")
    return {"rows": slice_rows(ds, slices, name), "scope": name}


REVIEW = ReviewKind(name="classification", open=open_review, store_path=review_store_path, labels=final_labels,
                    scope=scope)
