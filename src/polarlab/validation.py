"""Vote validation in one place: every vote matrix or vote column polarlab reads goes through :func:`check_votes`.

A vote is a class index ``0..k-1`` or ``-1`` (:data:`polarlab.constants.ABSTAIN`). The label models, the
harmonizers, the risk score, the label matrix, applying a source, WRENCH weak labels, reviewers' answers and
end-model targets all call it, so the rule and its message are the same everywhere.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .constants import ABSTAIN
from .errors import InputError


def check_votes(votes: object, *, n_classes: int, names: Sequence[str] | None = None, n_rows: int | None = None,
                ndim: int = 2, what: str = "L", abstain: bool = True,
                error: type[InputError] = InputError) -> np.ndarray:
    """Validate votes and return them as int64.

    Args:
        votes: shape (n, m) (``ndim=2``: n examples, m sources) or (n,) (``ndim=1``: one source's votes,
            one answer per row).
        n_classes: k; a vote must be in ``0..k-1``, or -1 when ``abstain``.
        names: the sources' names (m of them; one for ``ndim=1``), used in messages instead of column numbers.
        n_rows: the number of rows ``votes`` must have (e.g. the rows of X), or None.
        ndim: 2 or 1.
        what: what ``votes`` is called in messages (``"L"``, ``"answers"``, ...).
        abstain: False when -1 is not allowed (e.g. a reviewer's answer).
        error: the error type raised (an :class:`InputError` subclass, e.g. ``SourceError``, ``DataError``).

    Returns:
        ``votes`` as int64, same shape.

    Raises:
        error: wrong number of dimensions or rows, non-integer values, or a vote outside ``-1..k-1``; the
            message and the error's ``row`` / ``column`` name the first bad vote (its source when ``names``).
    """
    arr = np.asarray(votes)
    one = names[0] if ndim == 1 and names else None          # one named source's votes
    label, column = (f"source {one!r}", one) if one is not None else (what, what)
    if arr.ndim != ndim or (n_rows is not None and arr.shape[0] != n_rows):
        if one is not None:
            msg = f"{label} returned {arr.shape} votes for {n_rows} rows"
        elif arr.ndim != ndim:
            msg = f"{what} must be {ndim}-D " + ("(n examples, m sources)" if ndim == 2 else "(n,)") + \
                f", got shape {arr.shape}"
        else:
            msg = f"{what} has {arr.shape[0]} rows for {n_rows} examples"
        fix = ("pass LabelMatrix.L, or reshape a single source's votes with votes[:, None]" if arr.ndim != ndim
               and ndim == 2 else "give one vote per example, in the same order")
        raise error(msg, column=column, fix=fix)
    if arr.dtype.kind not in "iub":
        if arr.dtype.kind != "f" or not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise error(f"{label} must hold integer votes, got dtype {arr.dtype}", column=column,
                        fix="encode votes as class indices and -1 for abstain")
    out = arr.astype(np.int64)
    low = ABSTAIN if abstain else 0
    bad = (out < low) | (out >= n_classes)
    if bad.any():
        first = np.argwhere(bad)[0]
        i, j = int(first[0]), int(first[1]) if ndim == 2 else 0
        source = names[j] if names is not None and j < len(names) else None
        allowed = f"-1..{n_classes - 1}" if abstain else f"0..{n_classes - 1}"
        v = out[tuple(first)]
        raise error(f"source {source!r} voted {v}, outside {allowed}" if source is not None else
                    f"vote {v} is outside {allowed}" + ("" if what == "L" else f" in {what}"), row=i,
                    column=source if source is not None else (str(j) if ndim == 2 else what),
                    fix=f"votes must be class indices 0..{n_classes - 1}" + (" or -1 for abstain" if abstain else ""))
    return out
