"""Apply slicing functions to a dataset: a boolean membership matrix."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import InputError, SourceError
from .function import SlicingFunction, is_snorkel_sf


@dataclass
class SliceMatrix:
    """Slice membership.

    Attributes:
        S: shape (n, s), bool; ``S[i, j]`` is True when example i is in slice j.
        names: the s slice names.
        ids: the n example ids.
    """

    S: np.ndarray
    names: list[str]
    ids: list[str]

    def column(self, name: str) -> np.ndarray:
        """Membership of slice ``name``, shape (n,), bool."""
        if name not in self.names:
            raise InputError(f"no slice named {name!r}", fix=f"use one of {self.names}")
        return self.S[:, self.names.index(name)]

    def to_recarray(self) -> np.recarray:
        """Snorkel's layout (a record array with one int field per slice), for ``snorkel.analysis.Scorer``."""
        return np.rec.fromarrays([self.S[:, j].astype(int) for j in range(self.S.shape[1])], names=self.names)


def _check_names(sfs: Sequence[Any]) -> list[str]:
    names = [sf.name for sf in sfs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"slicing function names are not unique: {dup}", fix="give every slice its own name")
    return names


def apply_slices(data: Dataset, sfs: Sequence[SlicingFunction | Any]) -> SliceMatrix:
    """Membership of every example of ``data`` in every slice.

    Args:
        data: the examples (n rows).
        sfs: polarlab :class:`SlicingFunction` objects (called on an ``Example``) or Snorkel ``SlicingFunction``
            objects (called on the pandas row, as Snorkel's ``PandasSFApplier`` does).

    Returns:
        SliceMatrix with ``S`` of shape (n, len(sfs)).

    Raises:
        InputError: two slices share a name, or an object is not a slicing function.
        SourceError: a slicing function raised; the error names it and the row (0-based position).
    """
    names = _check_names(sfs)
    n = len(data)
    S = np.zeros((n, len(sfs)), dtype=bool)
    examples = None
    for j, sf in enumerate(sfs):
        if is_snorkel_sf(sf):
            rows = (row for _, row in data.frame.iterrows())
        elif isinstance(sf, SlicingFunction):
            examples = examples if examples is not None else list(data)
            rows = iter(examples)
        else:
            raise InputError(f"{sf!r} is not a slicing function",
                             fix="decorate it with @polarlab.slicing.slicing_function() (or Snorkel's)")
        for i, x in enumerate(rows):
            try:
                S[i, j] = bool(sf(x))
            except Exception as e:  # noqa: BLE001 - re-raised with the slice and row named
                raise SourceError(f"slicing function {sf.name!r} raised {type(e).__name__}: {e}", row=i,
                                  column=sf.name, fix="fix the function (example id "
                                                      f"{data.frame['id'].iloc[i]!r})") from e
    return SliceMatrix(S=S, names=names, ids=data.ids)
