"""Strict JSON for everything a user or another tool reads (files, JSON lines, exports, metrics).

Python's ``json`` writes ``NaN`` / ``Infinity`` for non-finite floats, which is not JSON (``jq``,
JavaScript's ``JSON.parse``, Go, serde reject it). :func:`to_jsonable` turns every non-finite float into
``None`` (``null``) and numpy scalars / arrays into Python values; :func:`dumps` / :func:`dump` write it with
``allow_nan=False``, so a non-finite value that slips through (e.g. from a ``default``) raises instead of
writing invalid JSON. No other value changes.
"""
from __future__ import annotations

import json
import math
from typing import IO, Any, Callable

import numpy as np

__all__ = ["dump", "dumps", "to_jsonable"]

_KEY_TYPES = (str, int, float, bool, type(None))


def _scalar(obj: np.generic) -> Any:
    """A numpy scalar as the Python value ``json`` would write (long doubles through ``float``)."""
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    return obj.item()


def _key(k: Any) -> Any:
    """A dict key ``json`` accepts: numpy scalars as Python ones, str/int/float/bool/None unchanged, the rest str."""
    if isinstance(k, np.generic):
        k = _scalar(k)
    return k if isinstance(k, _KEY_TYPES) else str(k)


def to_jsonable(obj: Any) -> Any:
    """``obj`` with NaN / ±inf → ``None`` and numpy scalars / arrays → Python values, recursively.

    dicts (keys as :func:`_key`), lists and tuples (→ lists) are walked; any other object is returned
    unchanged (``json``'s ``default`` decides about it).
    """
    if isinstance(obj, dict):
        return {_key(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        obj = _scalar(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _strict_default(default: Callable[[Any], Any] | None) -> Callable[[Any], Any] | None:
    """``default`` whose result is cleaned too (e.g. ``default=float`` on a numpy NaN gives null)."""
    if default is None:
        return None
    return lambda o: to_jsonable(default(o))


def dumps(obj: Any, *, default: Callable[[Any], Any] | None = None, **kw: Any) -> str:
    """``json.dumps`` of :func:`to_jsonable` (``obj``) with ``allow_nan=False``: strict JSON text."""
    return json.dumps(to_jsonable(obj), allow_nan=False, default=_strict_default(default), **kw)


def dump(obj: Any, fh: IO[str], *, default: Callable[[Any], Any] | None = None, **kw: Any) -> None:
    """``json.dump`` counterpart of :func:`dumps` (writes to the open text file ``fh``)."""
    json.dump(to_jsonable(obj), fh, allow_nan=False, default=_strict_default(default), **kw)
