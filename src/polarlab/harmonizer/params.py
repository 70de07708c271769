"""The checks of :class:`polarlab.harmonizer.polar.PolarHarmonizer`'s constructor arguments, in one place.

``PolarHarmonizer.__init__`` calls :func:`check_params` before it stores anything, so a bad setting fails when the
harmonizer is made (not at fit) with one :class:`polarlab.errors.InputError` naming the argument and the fix.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..errors import InputError
from .combine import H_ONLY
from .combiners import make_combiner
from .groups import GROUPINGS
from .labels_from import LABELS_FROM
from .scalarize import SCALARIZATIONS

WEIGHT_NAMES = ("equal", "max_eigen", "min_var")
# The seed ensemble's member i (i = 1 .. K-1) is fitted with seed + i * SEED_STRIDE: runs whose seeds differ (and
# are below the stride) then share no member, so their spread is that of independent ensembles (with members
# seed + i, the ensembles of seeds 0 and 1 shared K-1 of their K fits).
SEED_STRIDE = 10_000


def check_params(*, n_classes: int, model: str, scalarization: str, weights: object, val_fraction: float,
                 num_threads: int | str | None, optimizer: str, tune_grid: Sequence[float], tune_folds: int,
                 combine: str | float, combine_candidates: Sequence[str], combine_groups: int, combine_folds: int,
                 combine_se: float, refit_rows: str, stage2: str, labels_from: str = "votes",
                 n_seeds: int = 1, combine_groups_by: str = "random") -> None:
    """Raise :class:`InputError` on the first bad argument (the arguments mean what they mean in
    :class:`~polarlab.harmonizer.polar.PolarHarmonizer`); checked in this order: h's model and training, the
    weight tuning, the combined output, the seed ensemble."""
    _check_model(n_classes, model, scalarization, weights, val_fraction, num_threads, optimizer)
    _check_tuning(tune_grid, tune_folds)
    _check_combination(int(n_classes), combine, combine_candidates, combine_groups, combine_folds, combine_se,
                       refit_rows, stage2)
    _check_labels_from(labels_from, combine)
    if combine_groups_by not in GROUPINGS:
        raise InputError(f"combine_groups_by={combine_groups_by!r}", column="combine_groups_by",
                         fix=f"use one of {list(GROUPINGS)}")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, (int, np.integer)) or n_seeds < 1:
        raise InputError(f"n_seeds={n_seeds!r}", column="n_seeds",
                         fix=f"use a whole number >= 1 (1: one fit; K: the mean of K fits with seeds seed, "
                             f"seed+{SEED_STRIDE}, ...)")


def _check_labels_from(labels_from: str, combine: str | float) -> None:
    """``labels_from``: a known value, and one the combination can act on (else it would be ignored silently)."""
    if labels_from not in LABELS_FROM:
        raise InputError(f"labels_from={labels_from!r}", column="labels_from",
                         fix=f"use one of {list(LABELS_FROM)}")
    if labels_from == "auto" and combine != "auto":
        raise InputError(f"labels_from='auto' with combine={combine!r}: the choice is made by combine='auto''s "
                         "held-out selection, so it would always keep the votes", column="labels_from",
                         fix="use combine='auto', or labels_from='votes' / 'features'")
    if labels_from == "features" and combine == H_ONLY:
        raise InputError("labels_from='features' with combine='h': h(x) alone reads no votes and has no "
                         "features-only classifier", column="labels_from",
                         fix="use labels_from='votes' with combine='h'")


def _check_model(n_classes: int, model: str, scalarization: str, weights: object, val_fraction: float,
                 num_threads: int | str | None, optimizer: str) -> None:
    """h(x): classes, model, scalarization, source weights, held-out share, threads, optimizer."""
    if n_classes < 2:
        raise InputError(f"n_classes={n_classes}", column="n_classes", fix="use 2 or more classes")
    if scalarization not in SCALARIZATIONS:
        raise InputError(f"unknown scalarization {scalarization!r}", column="scalarization",
                         fix=f"use one of {sorted(SCALARIZATIONS)}")
    if model not in ("lr", "mlp"):
        raise InputError(f"unknown harmonizer model {model!r}", column="model", fix="use 'lr' or 'mlp'")
    if isinstance(weights, str) and weights not in WEIGHT_NAMES:
        raise InputError(f"unknown weights {weights!r}", column="weights",
                         fix="use None, 'equal', 'max_eigen', 'min_var' or an array of m numbers")
    if not 0.0 <= val_fraction < 1.0:
        raise InputError(f"val_fraction={val_fraction}", column="val_fraction", fix="use 0 <= val_fraction < 1")
    if not (num_threads is None or num_threads == "auto"
            or (isinstance(num_threads, int) and num_threads >= 1)):
        raise InputError(f"num_threads={num_threads!r}", column="num_threads",
                         fix="use 'auto', None or a positive integer")
    if optimizer not in ("auto", "adam", "lbfgs"):
        raise InputError(f"unknown optimizer {optimizer!r}", column="optimizer",
                         fix="use 'auto', 'adam' or 'lbfgs'")


def _check_tuning(tune_grid: Sequence[float], tune_folds: int) -> None:
    """The gold-free weight tuning: a non-empty grid of non-negative multipliers, 2 or more folds."""
    grid = [float(g) for g in tune_grid]
    if not grid or any(not np.isfinite(g) or g < 0 for g in grid):
        raise InputError(f"tune_grid={list(tune_grid)}", column="tune_grid",
                         fix="give one or more non-negative multipliers, e.g. [0, 0.25, 0.5, 1]")
    if int(tune_folds) < 2:
        raise InputError(f"tune_folds={tune_folds}", column="tune_folds", fix="use 2 or more folds")


def _check_combination(n_classes: int, combine: str | float, combine_candidates: Sequence[str], combine_groups: int,
                       combine_folds: int, combine_se: float, refit_rows: str, stage2: str) -> None:
    """The combined output: its spec, the ``"auto"`` candidates and groups, folds, one-SE width, second stage."""
    if isinstance(combine, str) and combine not in ("auto", H_ONLY):
        make_combiner(combine, n_classes)                # raises on an unknown spec
    elif not (isinstance(combine, str) or (isinstance(combine, (int, float)) and not isinstance(combine, bool)
                                           and np.isfinite(combine) and combine >= 0)):
        raise InputError(f"combine={combine!r}", column="combine",
                         fix="use 'auto', 'h', a candidate such as 'onecoin:0.5', or a non-negative number")
    for spec in combine_candidates:
        try:
            make_combiner(spec, n_classes)
        except InputError as e:          # make_combiner names "combine"; here the key is combine_candidates
            e.column = "combine_candidates"
            raise
    if not len(combine_candidates) or int(combine_groups) < 2:
        raise InputError(f"combine_candidates={list(combine_candidates)}, combine_groups={combine_groups}",
                         column="combine_candidates", fix="give one or more candidates and 2 or more groups")
    if int(combine_folds) < 2:
        raise InputError(f"combine_folds={combine_folds}", column="combine_folds", fix="use 2 or more folds")
    if not (isinstance(combine_se, (int, float)) and not isinstance(combine_se, bool)
            and np.isfinite(combine_se) and combine_se >= 0):
        raise InputError(f"combine_se={combine_se!r}", column="combine_se",
                         fix="use a non-negative number of standard errors (0: the best score; default 1)")
    if refit_rows not in ("covered", "all"):
        raise InputError(f"refit_rows={refit_rows!r}", column="refit_rows", fix="use 'covered' or 'all'")
    if stage2 not in ("lr", "h"):
        raise InputError(f"stage2={stage2!r}", column="stage2", fix="use 'lr' or 'h'")
