"""Strict JSON output (polarlab/io/jsonout.py): NaN / ±inf -> null, numpy -> Python, nothing else changed."""
from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

from polarlab.io.jsonout import dump, dumps, to_jsonable


def _strict(text: str):
    """json.loads that refuses the NaN / Infinity / -Infinity tokens (what jq, JSON.parse, serde do)."""
    def refuse(token):
        raise ValueError(f"non-standard JSON token {token}")
    return json.loads(text, parse_constant=refuse)


def test_nested_values_numpy_and_non_finite_floats():
    obj = {"a": float("nan"), "b": [1.5, float("inf"), (-math.inf, 2)],
           "c": {"f32": np.float32(0.25), "f64": np.float64("nan"), "i64": np.int64(7), "bool": np.bool_(True),
                 "arr": np.array([[1.0, np.nan], [np.inf, -2.0]], dtype=np.float32), "ints": np.arange(3)},
           np.int64(3): "numpy key", 4: None, "s": "NaN", "t": (1, "x")}
    out = to_jsonable(obj)
    assert out == {"a": None, "b": [1.5, None, [None, 2]],
                   "c": {"f32": 0.25, "f64": None, "i64": 7, "bool": True, "arr": [[1.0, None], [None, -2.0]],
                         "ints": [0, 1, 2]},
                   3: "numpy key", 4: None, "s": "NaN", "t": [1, "x"]}
    types = {k: type(v) for k, v in out["c"].items()}
    assert types["f32"] is float and types["i64"] is int and types["bool"] is bool
    assert type(next(k for k in out if k == 3)) is int                      # the numpy key became a Python int
    text = dumps(obj, indent=1)
    assert "NaN" not in text.replace('"NaN"', "") and "Infinity" not in text
    parsed = _strict(text)
    assert parsed["3"] == "numpy key" and parsed["c"]["arr"] == [[1.0, None], [None, -2.0]] and parsed["s"] == "NaN"
    fh = io.StringIO()
    dump(obj, fh, indent=1)
    assert fh.getvalue() == text
    # the plain json module writes tokens a strict parser refuses: what this helper is for
    with pytest.raises(ValueError, match="non-standard"):
        _strict(json.dumps({"a": float("nan")}))


def test_finite_values_unchanged_and_keyword_arguments_passed_on():
    obj = {"x": 0.1, "y": -0.0, "z": 1e308, "big": 2**70, "text": "é", "none": None, "flag": False}
    assert to_jsonable(obj) == obj
    assert dumps(obj, sort_keys=True, ensure_ascii=False) == json.dumps(obj, sort_keys=True, ensure_ascii=False)
    assert dumps([np.float64(0.1)], separators=(",", ":")) == "[0.1]"


def test_default_results_are_cleaned_and_unknown_objects_still_refused():
    assert _strict(dumps({"s": {1}}, default=lambda o: [float("nan"), np.float32(2.0)])) == {"s": [None, 2.0]}
    assert dumps({"p": object}, default=str) == json.dumps({"p": object}, default=str)
    with pytest.raises(TypeError):
        dumps({"s": {1}})
