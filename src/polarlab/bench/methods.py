"""Every baseline and POLAR fitted on one fit split and scored on a test split: the method loop the benchmarks share.

The baselines are the label models (:data:`LABEL_MODEL_BASELINES`: majority vote with WRENCH's seeded random
tie-break, Snorkel's LabelModel, Dawid–Skene) and each of them followed by a logistic regression on the same features
(:data:`TWO_STAGE_BASELINES`, ``+lr``, :mod:`polarlab.labelmodels.two_stage`); then POLAR's h(x) alone
(``polar_h``) and its final output (``polar``). Used by ``polarlab bench wrench`` (its two-stage baselines; the label
models there run as the ``label_models`` stage), ``benchmarks/spam_tutorial.py`` (and through it
``benchmarks/datasculpt_lfs.py``) and ``benchmarks/label_quality.py --one-sided``.
"""
from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..harmonizer import PolarHarmonizer
from ..harmonizer.diagnostics import SupervisionWarning
from ..io.jsonout import dumps
from ..labelmodels import make_label_model
from ..metrics import classification_metrics

LABEL_MODEL_BASELINES = ("mv", "snorkel", "dawid_skene")
TWO_STAGE_BASELINES = tuple(f"{m}+lr" for m in LABEL_MODEL_BASELINES)   # label model -> LR on the features
BASELINES = (*LABEL_MODEL_BASELINES, *TWO_STAGE_BASELINES)
METHODS = (*BASELINES, "polar_h", "polar")
SEEDED = ("mv",)          # label models given the run's seed (the tie-break); the others keep their own


@dataclass
class MethodFits:
    """What :func:`fit_methods` fitted.

    Attributes:
        probas: method -> test distributions (n_test, k): the baselines in the order asked, then ``polar`` and
            ``polar_h``.
        harmonizer: the fitted POLAR.
        fit_warnings: the warnings POLAR's fit raised.
        test_warnings: the warnings its prediction of the test rows raised (the vote-shift check).
    """

    probas: dict[str, np.ndarray]
    harmonizer: PolarHarmonizer
    fit_warnings: list[warnings.WarningMessage]
    test_warnings: list[warnings.WarningMessage]


def fit_baselines(L_fit: np.ndarray, L_test: np.ndarray, X_fit: np.ndarray, X_test: np.ndarray, n_classes: int, *,
                  seed: int = 0, options: dict[str, dict[str, Any]] | None = None,
                  methods: Iterable[str] = BASELINES, seconds: dict[str, float] | None = None) -> dict[str, np.ndarray]:
    """Fit each baseline on the fit rows and predict the test rows.

    Args:
        L_fit, L_test: votes (n_fit, m) and (n_test, m).
        X_fit, X_test: features (n_fit, d) and (n_test, d) of the same rows (read by the ``+lr`` methods only).
        n_classes: k.
        seed: the seed of the label models in :data:`SEEDED` and of the two-stage methods (which hand it to
            their label model unless its options name one).
        options: label model name -> its keyword options, for the model alone and inside its ``+lr``.
        methods: names of :data:`BASELINES` (any registered label model), fitted in this order.
        seconds: where to add each method's fit-and-predict time (None = not timed).

    Returns:
        method -> (n_test, k) distributions.
    """
    options = options or {}
    probas: dict[str, np.ndarray] = {}
    for m in methods:
        t = time.perf_counter()
        if m.endswith("+lr"):
            own = options.get(m[:-len("+lr")])
            model = make_label_model(m, n_classes, seed=seed, **({"label_model_options": own} if own else {}))
            probas[m] = model.fit(L_fit, X_fit).predict_proba(None, X_test)
        else:
            opts = {"seed": seed, **options.get(m, {})} if m in SEEDED else options.get(m, {})
            probas[m] = make_label_model(m, n_classes, **opts).fit(L_fit).predict_proba(L_test)
        if seconds is not None:
            seconds[m] = time.perf_counter() - t
    return probas


def fit_methods(L_fit: np.ndarray, L_test: np.ndarray, X_fit: np.ndarray, X_test: np.ndarray, n_classes: int, *,
                seed: int = 0, options: dict[str, dict[str, Any]] | None = None,
                harmonizer: dict[str, Any] | None = None) -> MethodFits:
    """Every baseline (:func:`fit_baselines`), then POLAR (``seed`` and the ``harmonizer`` options) on the fit rows;
    the test rows' distributions of each, POLAR's h(x) alone as ``polar_h``. Shapes as in :func:`fit_baselines`."""
    probas = fit_baselines(L_fit, L_test, X_fit, X_test, n_classes, seed=seed, options=options)
    with warnings.catch_warnings(record=True) as fit_caught:
        warnings.simplefilter("always")
        h = PolarHarmonizer(n_classes, **{"seed": seed, **(harmonizer or {})}).fit(L_fit, X_fit)
    with warnings.catch_warnings(record=True) as test_caught:
        warnings.simplefilter("always")
        probas["polar"] = h.predict_proba(L_test, X_test)      # the vote-shift check of the test rows included
    probas["polar_h"] = h.predict_h(X_test)
    return MethodFits(probas=probas, harmonizer=h, fit_warnings=list(fit_caught), test_warnings=list(test_caught))


def score_methods(gold: np.ndarray, probas: dict[str, np.ndarray], dataset: str,
                  metrics: Iterable[str] = ("accuracy", "macro_f1"), *, methods: Iterable[str] | None = None,
                  digits: int | None = None, metric: str | None = None) -> dict[str, dict[str, Any]]:
    """Method -> metric -> score of each distribution (n, k) against ``gold`` (n,) (``-1`` rows skipped).

    Args:
        dataset: the WRENCH dataset name that chooses ``wrench_metric``
            (:func:`polarlab.metrics.classification_metrics`).
        metrics: keys of :func:`~polarlab.metrics.classification_metrics`'s result.
        methods: which of ``probas`` and in what order (default: all, in its order).
        digits: round each numeric score (as a float) to this many places; None = as computed.
        metric: ``"auto"``/None (WRENCH's table by ``dataset``, accuracy for other names), ``"acc"`` or
            ``"f1_binary"`` (:func:`polarlab.metrics.metric_for`).
    """
    metrics = tuple(metrics)
    out: dict[str, dict[str, Any]] = {}
    for m in probas if methods is None else methods:
        scores = classification_metrics(gold, probas[m], dataset=dataset, metric=metric)
        out[m] = {k: _rounded(scores[k], digits) for k in metrics}
    return out


def _rounded(value: Any, digits: int | None) -> Any:
    """A score rounded to ``digits`` places as a float; names (e.g. ``wrench_metric_name``) and None unchanged."""
    if digits is None or isinstance(value, (str, bool)) or value is None:
        return value
    return round(float(value), digits)


def supervision_messages(caught: Iterable[warnings.WarningMessage]) -> list[str]:
    """The distinct messages of the harmonizer's supervision warnings (subclasses included) among ``caught``, sorted."""
    return sorted({str(w.message) for w in caught if isinstance(w.message, SupervisionWarning)})


def emit_result(result: dict, json_path=None) -> None:
    """A multi-dataset benchmark's end: ``result`` written to ``json_path`` (when given) and printed as the
    last line (one JSON object)."""
    if json_path:
        from ..export.labels import write_json

        write_json(result, json_path)
    print(dumps(result, default=float))


def exit_status(result: dict) -> int:
    """1 when a dataset of ``result["datasets"]`` failed (its entry holds ``"error"``; the others still ran), else 0."""
    return 1 if any("error" in r for r in result.get("datasets", {}).values()) else 0
