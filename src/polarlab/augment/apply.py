"""Apply transformation functions to a dataset under a policy; the augmented rows say where they came from."""
from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator, Sequence

import numpy as np
import pandas as pd

from ..data.dataset import RELATION_COLUMNS, Dataset, Example
from ..errors import InputError, SourceError
from .function import TransformationFunction, is_snorkel_tf

#: Provenance columns of an augmented dataset: the original row's id ("" for an original row) and the names of
#: the transformation functions that changed it, in order, joined by ">".
PROVENANCE = ("augmented_from", "transforms")


@contextmanager
def _seeded(seed: int | None) -> Iterator[None]:
    """Snorkel's policies draw from NumPy's global generator: seed it here and restore it afterwards."""
    if seed is None:
        yield
        return
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _as_example(rec: dict[str, Any]) -> Example:
    meta = {k: v for k, v in rec.items() if k not in ("id", "text", "label") + RELATION_COLUMNS}
    return Example(id=str(rec["id"]), text=rec["text"], entity1=rec.get("entity1"), entity2=rec.get("entity2"),
                   span1=rec.get("span1"), span2=rec.get("span2"), meta=meta)


def _as_record(x: Any, original: dict[str, Any]) -> dict[str, Any]:
    if isinstance(x, pd.Series):
        rec = x.to_dict()
    elif isinstance(x, Example):
        rec = {"text": x.text, **{c: getattr(x, c, None) for c in RELATION_COLUMNS if c in original}, **x.meta}
    else:
        raise TypeError(f"a transformation function returned {type(x).__name__}, not an example")
    rec["id"], rec["label"] = original["id"], original["label"]     # the label is kept, never transformed
    return rec


def _call(tf: Any, rec: dict[str, Any]) -> dict[str, Any] | None:
    x = pd.Series(rec) if is_snorkel_tf(tf) else _as_example(rec)
    out = tf(x)
    return None if out is None else _as_record(out, rec)


def augment(data: Dataset, tfs: Sequence[TransformationFunction | Any], policy: Any, *, seed: int | None = 0,
            name: str | None = None) -> Dataset:
    """The examples of ``data`` and their transformed copies, as Snorkel's ``PandasTFApplier`` makes them.

    For each example, ``policy.generate_for_example()`` gives sequences of function indices; each sequence is
    applied in order (a function returning None is skipped) and the result is kept when at least one function
    applied (or the sequence is empty: the original, with ``keep_original``).

    Args:
        data: the labelled training examples (n rows); labels are copied to their augmented rows.
        tfs: polarlab :class:`TransformationFunction` or Snorkel ``TransformationFunction`` objects.
        policy: a Snorkel augmentation policy (``RandomPolicy``, ``MeanFieldPolicy``, ...).
        seed: seeds NumPy's global generator, which Snorkel's policies use, for this call only (None: as is).
        name: name of the new dataset (default: ``data.name + "_augmented"``).

    Returns:
        Dataset with the original columns plus ``augmented_from`` (original id; "" for an original row) and
        ``transforms`` (function names applied, joined by ">"). New rows get ids ``"<id>~aug<j>"``.
        Precomputed weak labels are not carried (augmented rows have no votes yet: re-apply the sources).

    Raises:
        InputError: the names of ``tfs`` are not unique.
        SourceError: a function raised; names it and the row.
    """
    names = [tf.name for tf in tfs]
    if len(set(names)) != len(names):
        raise InputError(f"transformation function names are not unique: {names}", fix="give each its own name")
    if getattr(policy, "n", len(tfs)) != len(tfs):
        raise InputError(f"the policy was built for {policy.n} functions but {len(tfs)} were given",
                         fix="build the policy with n_tfs = len(tfs)")
    out: list[dict[str, Any]] = []
    with _seeded(seed):
        for i, rec in enumerate(data.frame.to_dict("records")):
            made = 0
            for seq in policy.generate_for_example():
                cur, applied = rec, []
                for t in seq:
                    try:
                        new = _call(tfs[t], cur)
                    except Exception as e:  # noqa: BLE001 - re-raised naming the function and row
                        raise SourceError(f"transformation function {names[t]!r} raised {type(e).__name__}: {e}",
                                          row=i, column=names[t], fix=f"fix the function (example id {rec['id']!r})"
                                          ) from e
                    if new is not None:
                        cur, applied = new, applied + [names[t]]
                if not seq:
                    out.append({**rec, "augmented_from": "", "transforms": ""})
                elif applied:
                    made += 1
                    out.append({**cur, "id": f"{rec['id']}~aug{made}", "augmented_from": str(rec["id"]),
                                "transforms": ">".join(applied)})
    frame = pd.DataFrame(out, columns=list(data.frame.columns) + list(PROVENANCE)) if out else \
        pd.DataFrame(columns=list(data.frame.columns) + list(PROVENANCE))
    return Dataset(frame=frame, name=name or f"{data.name}_augmented", source=data.source)
