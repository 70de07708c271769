"""The POLAR harmonizer: a model h(x) fitted to every supervision source at once.

Zhao, Wei, Preston, Poon, "Automatic Calibration and Error Correction for Large Language
Models via Pareto Optimal Self-Supervision" (arXiv 2306.16564). No gold labels are used:
h is trained to minimise ``mean_i G(w_1 l_1(x_i), ..., w_m l_m(x_i))`` where
``l_j(x_i) = CE(h(x_i), L_ij)`` for every source j that voted on example i (see
:mod:`polarlab.harmonizer.scalarize` for G). The POLAR risk of the LLM's answer ``a_i`` is
then ``1 - h(x_i)[a_i]`` (:func:`polarlab.risk.risk_score`).
"""
from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass, replace
from typing import Iterator, Literal, Sequence

import numpy as np
import torch

from ..errors import InputError, NotFittedError
from .combine import H_ONLY, _softmax
from .combiners import (DEFAULT_CANDIDATES, FALLBACK_CANDIDATE, ONE_CLASS_CANDIDATES, Combiner, choose_risk_scales,
                        choose_temperature, make_combiner)
from .diagnostics import SupervisionWarning, classes_without_votes, warn
from .labels_from import votes_or_features
from .shift import VoteShift, compare as compare_shift, vote_agreement
from .stage2 import FeatureClassifier, cross_fitted_proba, fit_temperature, sharpen
from .select import CandidateScore, select_by_agreement, source_groups
from .models import build_model
from .params import SEED_STRIDE, check_params
from .reweight import source_weights
from .scalarize import class_aggregate, scalarize_by_class
from .tune import tune_source_weight
from ..validation import check_votes

WeightSpec = None | Literal["equal", "max_eigen", "min_var"] | Sequence[float] | np.ndarray




@dataclass
class EpochRecord:
    """One epoch of training: mean training objective and the selection metric."""

    epoch: int
    train_loss: float
    valid_loss: float | None


class PolarHarmonizer:
    """POLAR harmonizer (scikit-learn style; follows :class:`polarlab.labelmodels.base.LabelModel`).

    Args:
        n_classes: k.
        model: ``"lr"`` (one linear layer) or ``"mlp"`` (two layers, ``hidden`` units).
        scalarization: how per-source losses combine per example: ``"linear"``
            (sum w_j l_j), ``"square"`` ((sum w_j l_j)^2), ``"2norm"`` (||(w_j l_j)_j||_2) or
            ``"max"`` (max_j w_j l_j).
        weights: per-source weights: ``None``/``"equal"`` (all 1), ``"max_eigen"`` or
            ``"min_var"`` (chosen from the data, :mod:`polarlab.harmonizer.reweight`), or an
            array of m non-negative numbers.
        epochs: maximum epochs (Adam: passes over the training rows; L-BFGS: rounds of
            ``lbfgs_iter`` iterations).
        lr: Adam learning rate.
        weight_decay: L2 penalty on the weights (Adam's weight_decay; for L-BFGS the term
            ``weight_decay / 2 * ||W||^2`` on non-bias parameters).
        hidden: hidden units of the MLP.
        batch_size: rows per minibatch; ``None`` = full batch.
        patience: stop after this many epochs without improvement of the selection metric.
        val_fraction: share of the training rows held out for model selection (ignored when
            ``X_valid`` is given to :meth:`fit`); 0 disables early stopping.
        seed: seeds the split, the initialisation and the minibatch order.
        device: torch device (``"cpu"``).
        standardize: centre and scale features with training-set statistics.
        min_delta: smallest decrease of the selection metric that counts as improvement.
        num_threads: torch intra-op threads while fitting (restored afterwards). ``None``
            keeps torch's setting; ``"auto"`` uses 1 thread for the LR model or a small
            training matrix (n * d <= 2e7), where threading costs more than it saves (on a
            shared 2-core machine a youtube-sized fit took 5 s with 2 threads, 0.1 s with 1),
            and torch's setting otherwise.
        optimizer: ``"adam"`` (minibatches of ``batch_size``, learning rate ``lr``),
            ``"lbfgs"`` (full batch, strong-Wolfe line search; one epoch = up to
            ``lbfgs_iter`` iterations; ``lr``/``batch_size`` unused) or ``"auto"``: L-BFGS for
            the LR model with a smooth scalarization (linear, square, 2norm: convex and smooth
            in the weights, so full-batch quasi-Newton converges in a few dozen steps), Adam
            for the MLP and for ``"max"`` (non-smooth; the line search stalls on its kinks).
        lbfgs_iter: L-BFGS iterations per epoch. Model selection runs between epochs, so
            small values give early stopping a fine grid (with 384-d embeddings and ~1k rows,
            20 iterations already overfit the sources).
        tune_sources: column indices of L whose weight is chosen from ``tune_grid`` without
            gold (the LLM's, typically): each multiplier is scored by ``tune_folds``-fold
            cross-fitting on how well h predicts the *other* sources on held-out rows
            (:mod:`polarlab.harmonizer.tune`). ``None`` = no tuning.
        tune_grid: candidate multipliers of those sources' weights.
        tune_folds: folds of the cross-fitting.
        combine: the final distribution (:mod:`polarlab.harmonizer.combiners`): ``"auto"`` (default)
            chooses, without gold, among ``combine_candidates`` (h(x) alone, majority vote with h(x) as the
            tie-break, a one-coin weighted vote and Dawid–Skene with h(x) as the per-row prior) by their
            held-out agreement with left-out source groups (:mod:`polarlab.harmonizer.select`); ``"h"`` =
            h(x) alone (the votes are ignored at prediction time); a candidate spec such as
            ``"onecoin:0.5"``; a number tau = ``"ds:tau"``.
        combine_candidates: candidate specs for ``"auto"``.
        combine_groups: source groups left out in turn by the ``"auto"`` selection.
        combine_se: the ``"auto"`` selection keeps the first of ``combine_candidates`` (simplest first) whose
            held-out agreement is within this many bootstrap standard errors of the best one's (the
            one-standard-error rule, :func:`polarlab.harmonizer.select.one_se_choice`); 0 = the best score, which
            is also what is used while a tuned source (the LLM) is heard (``mv`` would ignore its tuned weight).
        refit_prior: after the choice, refit h to the chosen distribution's labels of the fit rows (same
            model and features) and use it as the prior of the same candidate (a second stage).
        refit_rows: the rows that second stage learns from: ``"all"`` (default; the rows no source voted on
            too, labelled by the first prior itself) or ``"covered"`` (rows some source voted on, as the
            two-stage pipeline does; measured in the README's label-quality section, not the default).
        stage2: the second-stage model: ``"lr"`` (:class:`polarlab.harmonizer.stage2.FeatureClassifier`,
            a logistic regression whose L2 strength is chosen by cross-validated log-loss on the labels) or
            ``"h"`` (default; the harmonizer's own model, early-stopped, ``weight_decay``).
        combine_folds: folds of the cross-fitted h that serves as the prior on the fit rows.
        labels_from: whether the final labels read each row's votes (``"votes"``, default: the chosen candidate) or
            its features only (``"features"``: the two-stage classifier ``fallback_model_`` trained on the
            candidate's distributions); ``"auto"`` chooses by the same held-out agreement, the better score
            (:mod:`polarlab.harmonizer.labels_from`; only after an ``"auto"`` selection, else the votes). Opt-in:
            measured in the README (label-quality section), it helped on noisy LLM-written rules and hurt on
            WRENCH youtube and chemprot, and its margins were below one standard error everywhere.
        n_seeds: a seed ensemble (bagging over the fit's randomness): K > 1 fits the whole harmonizer K times, with
            seeds ``seed, seed+S, ..., seed+(K-1)·S``, S = :data:`SEED_STRIDE` (so runs with different seeds
            below S share no member; each its own held-out split, initialisation, source groups, selection
            bootstrap and cross-fitting folds, so each may choose its own final distribution), and
            :meth:`predict_proba` returns the mean of the K distributions (also with ``exclude``: the risk). 1 = one
            fit (the ``seed``'s own, which is also the ensemble's first member).

    Attributes (after fit):
        weights_: shape (m,), the source weights used.
        model_: the fitted torch module.
        history_: list of :class:`EpochRecord`.
        best_epoch_: epoch whose parameters were kept.
        tuning_: with ``tune_sources``, one :class:`TuningRow` per grid value (held-out loss).
        tuned_multiplier_: the chosen multiplier (1.0 without tuning).
        n_features_in_: d.  n_sources_: m.
        combine_: the spec of the final distribution used by :meth:`predict_proba` when votes are given
            (``"h"``: h(x) alone).
        combine_table_: one :class:`CandidateScore` per candidate (``"auto"``), else [].
        combiner_: the fitted :class:`polarlab.harmonizer.combiners.Combiner` (None with ``combine="h"``).
        prior_model_: h refitted to the combined labels (``refit_prior``), the prior at prediction time; or None.
        fallback_model_: the features-only two-stage classifier (:class:`polarlab.harmonizer.stage2.FeatureClassifier`
            trained on the combined distributions of the covered fit rows as soft labels, standardised on every fit
            row) used for rows whose votes shifted; or None.
        labels_from_: ``"votes"`` or ``"features"`` (``labels_from``'s outcome): with ``"features"``,
            :meth:`predict_proba` labels every row by ``fallback_model_`` (no vote-shift check).
        fallback_temperature_: the temperature of its distributions (:meth:`_fallback_temperature`; 1.0 without one).
        fit_vote_agreement_: per pool of sources (the tuned sources, the others), (votes equal to the cross-fitted
            prior's label, votes) on the fit rows, the reference of the vote-shift check
            (:mod:`polarlab.harmonizer.shift`).
        silenced_sources_: the tuned sources whose chosen weight is 0; the combined output reads their column as
            abstentions (their answers are still scored by the risk).
        warnings_: the :class:`SupervisionWarning` texts of the fit (also emitted as warnings).
        seed_members_: with ``n_seeds`` > 1, the fitted harmonizers of seeds ``seed + S, seed + 2S, ...``
            (S = :data:`SEED_STRIDE`; each with ``n_seeds=1``); every other attribute above is this (the
            ``seed``'s) fit's. [] with ``n_seeds=1``.
    """

    def __init__(self, n_classes: int, model: str = "lr", scalarization: str = "linear",
                 weights: WeightSpec = None, epochs: int = 100, lr: float = 0.01,
                 weight_decay: float = 0.0, hidden: int = 128, batch_size: int | None = 4096,
                 patience: int = 10, val_fraction: float = 0.1, seed: int = 0,
                 device: str = "cpu", standardize: bool = True, min_delta: float = 1e-4,
                 num_threads: int | str | None = "auto", optimizer: str = "auto",
                 lbfgs_iter: int = 5, tune_sources: Sequence[int] | None = None,
                 tune_grid: Sequence[float] = (0.0, 0.25, 0.5, 1.0), tune_folds: int = 5,
                 combine: str | float = "auto", combine_candidates: Sequence[str] = DEFAULT_CANDIDATES,
                 combine_groups: int = 5, combine_folds: int = 5, refit_prior: bool = True,
                 refit_rows: str = "all", stage2: str = "h", combine_se: float = 1.0,
                 labels_from: str = "votes", n_seeds: int = 1) -> None:
        if isinstance(tune_grid, Iterator):        # a one-shot iterator: read once, by the checks and the store
            tune_grid = list(tune_grid)
        check_params(n_classes=n_classes, model=model, scalarization=scalarization, weights=weights,
                     val_fraction=val_fraction, num_threads=num_threads, optimizer=optimizer, tune_grid=tune_grid,
                     tune_folds=tune_folds, combine=combine, combine_candidates=combine_candidates,
                     combine_groups=combine_groups, combine_folds=combine_folds, combine_se=combine_se,
                     refit_rows=refit_rows, stage2=stage2, labels_from=labels_from, n_seeds=n_seeds)
        # h(x) and its training
        self.n_classes = int(n_classes)
        self.model = model
        self.scalarization = scalarization
        self.weights = weights
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.hidden = int(hidden)
        self.batch_size = batch_size
        self.patience = int(patience)
        self.val_fraction = float(val_fraction)
        self.seed = int(seed)
        self.device = device
        self.standardize = standardize
        self.min_delta = float(min_delta)
        self.num_threads = num_threads
        self.optimizer = optimizer
        self.lbfgs_iter = int(lbfgs_iter)
        # the gold-free tuning of some sources' weights
        self.tune_sources = None if tune_sources is None else [int(j) for j in tune_sources]
        self.tune_grid = [float(g) for g in tune_grid]
        self.tune_folds = int(tune_folds)
        # the combined output
        self.combine = combine
        self.combine_candidates = [str(c) for c in combine_candidates]
        self.combine_groups = int(combine_groups)
        self.combine_se = float(combine_se)
        self.refit_prior = bool(refit_prior)
        self.refit_rows = refit_rows
        self.stage2 = stage2
        self.combine_folds = int(combine_folds)
        self.labels_from = labels_from
        self.n_seeds = int(n_seeds)

    # ------------------------------------------------------------------ validation
    def _check_L(self, L: np.ndarray, n: int | None = None, name: str = "L") -> np.ndarray:
        return check_votes(L, n_classes=self.n_classes, n_rows=n, what=name)

    def _check_X(self, X: np.ndarray | None, name: str = "X") -> np.ndarray:
        if X is None:
            raise InputError("the harmonizer needs example features", column=name,
                             fix="compute features with polarlab.features.make_features and pass X")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise InputError(f"{name} has shape {X.shape}, expected (n, d)", column=name,
                             fix="pass one feature row per example")
        if not np.all(np.isfinite(X)):
            i = int(np.argwhere(~np.isfinite(X))[0, 0])
            raise InputError(f"{name} holds NaN or infinite values", row=i, column=name,
                             fix="clean or impute the features")
        return X

    def _resolve_weights(self, m: int) -> np.ndarray | str:
        w = self.weights
        if w is None or (isinstance(w, str) and w == "equal"):
            return np.ones(m)
        if isinstance(w, str):
            return w
        arr = np.asarray(w, dtype=np.float64).reshape(-1)
        if arr.shape[0] != m:
            raise InputError(f"{arr.shape[0]} weights for {m} sources", column="weights",
                             fix="give one weight per column of L")
        if not np.all(np.isfinite(arr)) or (arr < 0).any() or arr.sum() <= 0:
            raise InputError("weights must be finite, non-negative and not all 0", column="weights",
                             fix="pass e.g. np.ones(m)")
        return arr

    # ------------------------------------------------------------------ training
    def fit(self, L: np.ndarray, X: np.ndarray | None = None, *, L_valid: np.ndarray | None = None,
            X_valid: np.ndarray | None = None,
            select_with_gold: np.ndarray | None = None) -> "PolarHarmonizer":
        """Fit h to all sources.

        Model selection (early stopping) uses no gold labels by default: the kept
        parameters minimise the same scalarized source-agreement objective on held-out rows
        (``X_valid``/``L_valid`` when given, else a ``val_fraction`` split of the training rows).

        The steps, in order: check the rows; warn about classes no source votes for; set the held-out rows
        aside (:meth:`_held_out_rows`); the feature scaling (:meth:`_fit_scaling`); the source weights
        (:meth:`_data_driven_weights`, then the gold-free tuning of ``tune_sources``, :meth:`_tuned_weights`);
        train h (:meth:`_train`); choose and fit the combined output (:meth:`_fit_combination`); with ``n_seeds`` > 1,
        the same again for the other seeds (:meth:`_fit_seed_members`).

        Args:
            L: shape (n, m), int, -1 = abstain.
            X: shape (n, d), features.
            L_valid: shape (n_v, m), votes on the held-out rows (needed with ``X_valid``
                unless ``select_with_gold`` is given).
            X_valid: shape (n_v, d), features of held-out rows.
            select_with_gold: explicit opt-in to gold-based selection: gold labels
                (-1 = unknown) of the held-out rows, shape (n_v,) when ``X_valid`` is given,
                else shape (n,) for the training rows (only the held-out split's are used).
                Selection then minimises the cross-entropy against those gold labels.

        Returns:
            self.
        """
        X, L = self._check_fit_rows(L, X)
        weights = self._resolve_weights(L.shape[1])
        self.warnings_: list[str] = []
        self._warn_classes_without_votes(L)
        Xt, Lt, Xv, Lv, gold_v = self._held_out_rows(X, L, X_valid, L_valid, select_with_gold)
        self._fit_scaling(Xt)
        self.n_features_in_ = X.shape[1]
        self.n_sources_ = L.shape[1]
        weights = self._data_driven_weights(weights, Xt, Lt, Xv, Lv, gold_v)
        self.weights_ = self._tuned_weights(weights, X, L)
        self._train(Xt, Lt, Xv, Lv, gold_v, self.weights_)
        self._fit_combination(X, L)
        self._fit_seed_members(L, X, L_valid=L_valid, X_valid=X_valid, select_with_gold=select_with_gold)
        return self

    def _fit_seed_members(self, L: np.ndarray, X: np.ndarray, **held_out) -> None:
        """``seed_members_``: ``n_seeds - 1`` copies fitted on the same rows (``L`` (n, m), ``X`` (n, d), the same
        held-out arguments) with seeds ``seed+S, seed+2S, ...`` (S = :data:`SEED_STRIDE`). Their warnings are kept
        in ``warnings_`` and emitted once, by this fit, when they differ from its own."""
        self.seed_members_: list[PolarHarmonizer] = []
        for i in range(1, self.n_seeds):
            twin = copy.copy(self)
            twin.seed, twin.n_seeds, twin.seed_members_ = self.seed + i * SEED_STRIDE, 1, []
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", SupervisionWarning)
                twin.fit(L, X, **held_out)
            for msg in twin.warnings_:
                if msg not in self.warnings_:
                    warn(msg, self.warnings_)
            self.seed_members_.append(twin)

    def _check_fit_rows(self, L: np.ndarray, X: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The checked fit rows: ``X`` as float32, shape (n, d), and ``L`` as int, shape (n, m); n >= 1."""
        X = self._check_X(X)
        L = self._check_L(L, X.shape[0])
        if L.shape[0] == 0:
            raise InputError("no rows to fit on", column="L", fix="pass at least one example")
        return X, L

    def _warn_classes_without_votes(self, L: np.ndarray) -> None:
        """Warn (into ``warnings_``) about the classes no source votes for in ``L`` (n, m); fold copies stay quiet."""
        silent = classes_without_votes(L, self.n_classes)
        if silent and not getattr(self, "_quiet", False):
            warn(f"class(es) {silent} get no vote from any source on the {L.shape[0]} fit rows: h(x) cannot learn "
                 "them from the votes (the combined output can still give them to rows where the sources abstain); "
                 "add a rule or source that votes for them", self.warnings_)

    def _held_out_rows(self, X: np.ndarray, L: np.ndarray, X_valid: np.ndarray | None, L_valid: np.ndarray | None,
                       select_with_gold: np.ndarray | None) -> tuple:
        """The rows h is trained on and the held-out rows whose objective (or gold) chooses its epoch.

        With ``X_valid``: all of ``X``/``L`` are trained on, the given rows are held out (checked here). Without:
        a seeded ``val_fraction`` share of the rows is held out (none below 20 rows).

        Returns:
            ``(Xt, Lt, Xv, Lv, gold_v)``: shapes (n_t, d), (n_t, m), (n_v, d), (n_v, m), (n_v,); ``Xv``/``Lv`` are
            None without held-out rows, ``Lv`` may be None with ``select_with_gold``, ``gold_v`` is None unless
            ``select_with_gold`` is given.
        """
        if X_valid is not None:
            return (X, L, *self._check_held_out(X, L, X_valid, L_valid, select_with_gold))
        n = L.shape[0]
        rng = np.random.default_rng(self.seed)
        n_val = int(round(self.val_fraction * n)) if n >= 20 else 0
        perm = rng.permutation(n)
        vi, ti = np.sort(perm[:n_val]), np.sort(perm[n_val:])
        Xt, Lt = X[ti], L[ti]
        Xv, Lv = (X[vi], L[vi]) if n_val > 0 else (None, None)
        gold_v = None
        if select_with_gold is not None:
            g = self._check_gold(select_with_gold, n)
            if n_val == 0:
                raise InputError("select_with_gold needs held-out rows", column="val_fraction",
                                 fix="set val_fraction > 0 or pass X_valid")
            gold_v = g[vi]
        return Xt, Lt, Xv, Lv, gold_v

    def _check_held_out(self, X: np.ndarray, L: np.ndarray, X_valid: np.ndarray, L_valid: np.ndarray | None,
                        select_with_gold: np.ndarray | None) -> tuple:
        """The given held-out rows, checked against the fit rows ``X`` (n, d) / ``L`` (n, m).

        Returns:
            ``(Xv, Lv, gold_v)``: shapes (n_v, d), (n_v, m) or None, (n_v,) or None (one of ``Lv``/``gold_v`` is set).
        """
        Xv = self._check_X(X_valid, "X_valid")
        if Xv.shape[1] != X.shape[1]:
            raise InputError(f"X_valid has {Xv.shape[1]} features, X has {X.shape[1]}",
                             column="X_valid", fix="compute both with the same fitted features")
        Lv = None if L_valid is None else self._check_L(L_valid, Xv.shape[0], "L_valid")
        if Lv is not None and Lv.shape[1] != L.shape[1]:
            raise InputError(f"L_valid has {Lv.shape[1]} sources, L has {L.shape[1]}", column="L_valid",
                             fix="use the same sources in the same order")
        gold_v = None
        if select_with_gold is not None:
            gold_v = self._check_gold(select_with_gold, Xv.shape[0])
        elif Lv is None:
            raise InputError("X_valid given without L_valid", column="L_valid",
                             fix="pass the held-out rows' votes (or select_with_gold=y_valid)")
        return Xv, Lv, gold_v

    def _fit_scaling(self, Xt: np.ndarray) -> None:
        """Set ``mean_`` and ``scale_`` (shape (d,)) from the training rows ``Xt`` (n_t, d) (``standardize``; else
        0 and 1; features of (near) zero spread keep scale 1)."""
        if self.standardize:
            self.mean_ = Xt.mean(axis=0)
            sd = Xt.std(axis=0)
            self.scale_ = np.where(sd > 1e-12, sd, 1.0).astype(np.float32)
        else:
            self.mean_ = np.zeros(Xt.shape[1], dtype=np.float32)
            self.scale_ = np.ones(Xt.shape[1], dtype=np.float32)

    def _data_driven_weights(self, weights: np.ndarray | str, Xt: np.ndarray, Lt: np.ndarray, Xv: np.ndarray | None,
                             Lv: np.ndarray | None, gold_v: np.ndarray | None) -> np.ndarray:
        """The source weights, shape (m,), float64: ``weights`` as resolved by :meth:`_resolve_weights`, or for
        ``"max_eigen"``/``"min_var"`` chosen from the training votes ``Lt`` (n_t, m) (``min_var``: at an h first
        trained with equal weights on the same rows, :mod:`polarlab.harmonizer.reweight`)."""
        if isinstance(weights, str):
            if weights == "max_eigen":
                weights = source_weights(Lt, "max_eigen", n_classes=self.n_classes)
            else:
                self._train(Xt, Lt, Xv, Lv, gold_v, np.ones(Lt.shape[1]))
                weights = source_weights(Lt, "min_var", proba=self._proba(Xt))
        return np.asarray(weights, dtype=np.float64)

    def _tuned_weights(self, weights: np.ndarray, X: np.ndarray, L: np.ndarray) -> np.ndarray:
        """``weights`` (m,) with the ``tune_sources`` columns multiplied by the gold-free tuned multiplier
        (cross-fitted on all fit rows ``X`` (n, d) / ``L`` (n, m), :mod:`polarlab.harmonizer.tune`). Sets
        ``tuned_multiplier_`` and ``tuning_`` (1.0 and [] without ``tune_sources``)."""
        self.tuned_multiplier_, self.tuning_ = 1.0, []
        if not self.tune_sources:
            return weights
        m = L.shape[1]
        bad = [j for j in self.tune_sources if not 0 <= j < m]
        if bad:
            raise InputError(f"tune_sources {bad} are not columns of L (m={m})", column="tune_sources",
                             fix="give column indices of the sources to tune (e.g. the LLM's)")
        self.tuned_multiplier_, self.tuning_ = tune_source_weight(
            self.fold_copy, X, L, weights, self.tune_sources, self.tune_grid, self.tune_folds, seed=self.seed,
            warnings_sink=self.warnings_)
        weights = weights.copy()
        weights[self.tune_sources] *= self.tuned_multiplier_
        return weights

    def _fit_combination(self, X: np.ndarray, L: np.ndarray) -> None:
        """Choose and fit the final distribution (see ``combine``); h itself is already fitted.

        ``"auto"``: every candidate of ``combine_candidates`` (:mod:`polarlab.harmonizer.combiners`) is fitted
        on the fit rows with the cross-fitted h as prior and scored by its held-out agreement with each group
        of sources left out (votes and prior, :mod:`polarlab.harmonizer.select`); the best one is kept. Then the
        temperature of its distribution is chosen (never changes a label).

        The steps, in order (``X``: the fit rows' features (n, d); ``L``: their votes (n, m)): reset the combination
        attributes (:meth:`_reset_combination`); the cross-fitted log h(x) (n, k) as prior; the candidate
        (:meth:`_choose_combiner`); the second stage (:meth:`_second_stage`); the temperature and risk scales
        (:meth:`_choose_temperatures`); the vote-shift reference and fallback classifier (:meth:`_fit_vote_shift`);
        votes or features (:meth:`_choose_labels_from`).
        Sets ``combine_``, ``combiner_``, ``combine_table_``, ``prior_model_``, ``fit_log_prior_``,
        ``silenced_sources_``, ``fit_vote_agreement_``, ``fallback_model_``, ``fallback_temperature_``,
        ``labels_from_``.
        """
        self._reset_combination()
        if self.combine == H_ONLY:
            return
        answers, L = L, self._combination_votes(L)
        if min(self.combine_folds, L.shape[0]) < 2:
            return
        log_h = self._cross_fit(X, L, self.weights_)
        comb, held, held_fits = self._choose_combiner(X, L, log_h)
        comb, log_h = self._second_stage(X, L, comb, log_h)
        self.fit_log_prior_ = log_h
        self._choose_temperatures(comb, L, log_h, answers)
        self.combiner_ = comb
        self.combine_ = comb.describe()
        self._fit_vote_shift(X, L, log_h, comb)
        self._choose_labels_from(X, L, held, held_fits, comb)

    def _choose_labels_from(self, X: np.ndarray, L: np.ndarray, held: list[tuple[np.ndarray, np.ndarray]],
                            held_fits: list[Combiner], comb: Combiner) -> None:
        """Votes or features (``labels_from``): with ``"auto"`` and the held-out priors ``held`` of an ``"auto"``
        selection, the features-only classifier is kept when its held-out agreement beats the chosen candidate's
        (:func:`polarlab.harmonizer.labels_from.votes_or_features`, reusing the chosen candidate as the selection
        fitted it for each group, ``held_fits``; its row added to ``combine_table_``).
        ``X`` (n, d), ``L`` (n, m): the fit rows as the combination reads them. Sets ``labels_from_``."""
        if self.fallback_model_ is None or self.labels_from == "votes" or comb.describe() == H_ONLY:
            return          # (h alone chosen among the candidates reads no votes: predict_proba gives h(x) either way)
        if self.labels_from == "features":
            self.labels_from_ = "features"
            return
        if not held:
            return
        votes, features = votes_or_features(L, X, held, comb.describe(), self.n_classes,
                                            C=self.fallback_model_.chosen_C_, folds=self.combine_folds,
                                            seed=self.seed, fitted=held_fits)
        # its SE: of the difference between the two forms (the same whichever is better)
        self.combine_table_ = [*self.combine_table_, replace(features, se=max(votes.se, features.se))]
        if features.agreement > votes.agreement:
            self.labels_from_ = "features"

    def _reset_combination(self) -> None:
        """The combination attributes before any choice (h alone, no fallback); ``silenced_sources_``: the tuned
        sources whose chosen weight is 0."""
        self.combine_table_: list[CandidateScore] = []
        self.combiner_: Combiner | None = None
        self.prior_model_: PolarHarmonizer | None = None
        self.fallback_model_: FeatureClassifier | None = None
        self.fallback_temperature_ = 1.0
        self.labels_from_ = "votes"
        self.fit_vote_agreement_: list[tuple[int, int]] = []
        self.combine_ = H_ONLY
        # a tuned source (the LLM) whose gold-free weight is 0 adds nothing to h; it takes no part in the combined
        # output either (its answers are still scored by the risk). Without this, ``mv`` counted its every vote
        # as one full vote: on a 400-row chemprot subset (LLM right on 9 % of rows, tuned ×0) POLAR fell from
        # 0.555 (rules only) to 0.478 with the LLM
        self.silenced_sources_ = [j for j in (self.tune_sources or []) if self.tuned_multiplier_ == 0.0]

    def _heard_tuned_sources(self) -> list[int]:
        """The tuned sources (the LLM) that are not silenced: the combination reads their votes."""
        return [j for j in (self.tune_sources or []) if j not in self.silenced_sources_]

    def _choose_combiner(self, X: np.ndarray, L: np.ndarray,
                         log_h: np.ndarray) -> tuple[Combiner, list[tuple[np.ndarray, np.ndarray]], list[Combiner]]:
        """The candidate fitted to the votes ``L`` (n, m) with the prior ``log_h`` (n, k): the ``combine`` spec
        when it names one, else (``"auto"``) the one the sources' held-out agreement chooses
        (:meth:`_select_combiner`), or with votes for one class only :meth:`_one_class_combiner`; the held-out
        priors of that selection (per source group: its columns, log h cross-fitted without them; [] if none) and
        the chosen candidate as fitted for each of those groups ([] if none)."""
        if self.combine != "auto":
            spec = self.combine if isinstance(self.combine, str) else f"ds:{float(self.combine):g}"
            return make_combiner(spec, self.n_classes).fit(L, log_h), [], []
        if len(np.unique(L[L >= 0])) < 2:
            return self._one_class_combiner(L, log_h), [], []
        return self._select_combiner(X, L, log_h)

    def _one_class_combiner(self, L: np.ndarray, log_h: np.ndarray) -> Combiner:
        """The sources vote for one class only: agreement with them cannot see over-prediction of it. The first
        candidate of ``ONE_CLASS_CANDIDATES`` that gives some fit row another class (h(x) breaking the silences;
        else Dawid–Skene, which reads the sources' silences); the last one if none does."""
        for spec in ONE_CLASS_CANDIDATES:
            comb = make_combiner(spec, self.n_classes).fit(L, log_h)
            if len(np.unique(comb.scores(L, log_h).argmax(axis=1))) >= 2:
                break
        return comb

    def _select_combiner(self, X: np.ndarray, L: np.ndarray,
                         log_h: np.ndarray) -> tuple[Combiner, list[tuple[np.ndarray, np.ndarray]], list[Combiner]]:
        """``"auto"``: the candidate of ``combine_candidates`` chosen by held-out agreement with each group of sources
        left out in turn (:func:`polarlab.harmonizer.select.select_by_agreement`; sets ``combine_table_``), or
        ``FALLBACK_CANDIDATE`` when no group can be left out (a single source, or one group votes alone)."""
        held = []
        m = L.shape[1]
        active = np.array([j for j in range(m) if j not in self.silenced_sources_], dtype=np.int64)
        for group in source_groups(len(active), self.combine_groups, self.seed):   # silenced sources: in none
            cols = active[group]
            Lg = L.copy()
            Lg[:, cols] = -1
            if (Lg >= 0).any() and (L[:, cols] >= 0).any():
                held.append((cols, self._cross_fit(X, Lg, self.weights_)))
        if not held:
            return make_combiner(FALLBACK_CANDIDATE, self.n_classes).fit(L, log_h), [], []
        # the one-SE rule falls back on the first (simplest) candidate, a safe default with rules: with a
        # tuned source that is heard (the LLM, voting on every row at its gold-free weight), ``mv`` counts
        # its every vote as a full one whatever the tuning said, so no candidate is a safe default and the
        # best score is kept (WRENCH sms, 400-row subset with the LLM: the rule took ds:3 → mv, test F1
        # 0.855 → 0.605, compared on test gold; mv's SE there 0.099)
        tuned_heard = self._heard_tuned_sources()
        comb, self.combine_table_, held_fits = select_by_agreement(
            L, log_h, held, self.n_classes, self.combine_candidates, n_se=0.0 if tuned_heard else self.combine_se,
            seed=self.seed)
        return comb, held, held_fits

    def _second_stage(self, X: np.ndarray, L: np.ndarray, comb: Combiner,
                      log_h: np.ndarray) -> tuple[Combiner, np.ndarray]:
        """``refit_prior``: h refitted to the combined labels (the "label model -> classifier" pipeline), then the
        same candidate refitted around it; h's own votes-skew (sources that vote one class far more often) is
        corrected by labels that already weigh every source. Sets ``prior_model_``.

        Returns:
            ``(comb, log_h)``: the refitted candidate and the second stage's cross-fitted log prior (n, k); the
            arguments unchanged without a second stage (``refit_prior`` off, or the labels hold one class).
        """
        labels = comb.posterior(L, log_h).argmax(axis=1)[:, None]
        if self.refit_rows == "covered":
            # the classifier learns from the rows some source voted on, as in the two-stage pipeline; the
            # other rows' labels are the first prior's own guesses, and training on them feeds its biases back
            labels[~(L >= 0).any(axis=1)] = -1
        if not (self.refit_prior and len(np.unique(labels[labels >= 0])) >= 2):
            return comb, log_h
        if self.stage2 == "lr":
            y = labels[:, 0]
            log_h = self._cross_fit_stage2(X, y)
            self.prior_model_ = FeatureClassifier(self.n_classes).fit(y, X)
        else:
            log_h = self._cross_fit(X, labels, np.ones(1))
            self.prior_model_ = self.fold_copy(np.ones(1), seed=self.seed).fit(labels, X)
        return make_combiner(comb.describe(), self.n_classes).fit(L, log_h), log_h

    def _choose_temperatures(self, comb: Combiner, L: np.ndarray, log_h: np.ndarray, answers: np.ndarray) -> None:
        """Choose ``comb``'s temperature T and, with tuned sources, its risk scales (in place; labels unchanged).
        ``L``: the combination's votes (n, m); ``answers``: the votes before silencing (the tuned sources' answers
        are scored by the risk even when silenced)."""
        # T: by how well the distribution without the tuned source (the LLM) predicts its answers; when its weight is 0
        # (silenced) the combination never reads it, so T is chosen as without an LLM: every source left out in turn
        # (on a 400-row chemprot subset both give T = 1)
        heard = self._heard_tuned_sources()
        choose_temperature(comb, L, log_h, sources=heard or None, answers=answers if heard else None)
        # the LLM's risk (a leave-out distribution) may need the prior weighed against the votes differently from one
        # T: two scales by the same criterion on its answers (silenced or not: they are still scored), kept only when
        # they predict them significantly better (labels keep T). Without a tuned source (rules only) T serves
        if self.tune_sources:
            choose_risk_scales(comb, L, log_h, sources=list(self.tune_sources), answers=answers)

    def _fit_vote_shift(self, X: np.ndarray, L: np.ndarray, log_h: np.ndarray, comb: Combiner) -> None:
        """The vote-shift check's reference and fallback (:mod:`polarlab.harmonizer.shift`): ``fit_vote_agreement_``,
        how often a fit row's vote agrees with the cross-fitted prior ``log_h`` (n, k), per pool of sources
        (:meth:`_shift_pools`), and ``fallback_model_`` / ``fallback_temperature_``, the features-only two-stage
        classifier (trained on the combined labels of the covered fit rows) that labels rows whose votes do not
        behave like these."""
        self.fit_vote_agreement_ = [vote_agreement(L[:, cols], log_h.argmax(axis=1)) for cols in self._shift_pools()]
        # (trained on the combined distributions, not their argmax, and standardised on every fit row, as the
        # two-stage baseline's end model: see :mod:`polarlab.harmonizer.stage2`). The distributions are taken at
        # T = 1: the temperature is chosen for a distribution with one source left out (the risk), while these
        # read every source; at T = 4 on a 400-row sms subset with the LLM the soft labels were so flat that the
        # classifier's LLM-risk ECE was 0.155 (T = 1: 0.087; compared on test gold, reported in the README)
        q = _softmax(comb.scores(L, log_h))
        final = q.argmax(axis=1)
        final[~(L >= 0).any(axis=1)] = -1
        if (final >= 0).any():
            self.fallback_model_ = FeatureClassifier(self.n_classes).fit(final, X, scale_all_rows=True, soft=q)
            self.fallback_temperature_ = self._fallback_temperature(X, L, log_h, comb, final, q,
                                                                    self._heard_tuned_sources())

    def _fallback_temperature(self, X: np.ndarray, L: np.ndarray, log_h: np.ndarray, comb: Combiner,
                              final: np.ndarray, q: np.ndarray, tuned: Sequence[int]) -> float:
        """The temperature of the fallback classifier's distributions (:func:`polarlab.harmonizer.stage2.sharpen`;
        never changes a label): the T under which the classifier, cross-fitted on the fit rows, best predicts
        (cross-entropy) the combined distribution without the ``tuned`` sources (the LLM, whose answers the risk
        scores), on the rows some other source voted on. Trained on soft labels, the classifier inherits their
        softness, and on rows only the LLM voted on its labels are the prior's and the LLM's own guesses; the rows the
        rules voted on say how sure it may be. On a 400-row WRENCH sms subset with the LLM (test votes shifted, risk
        from this classifier) T = 0.79 took the LLM-risk ECE from 0.092 to 0.062 and R² from 0.925 to 0.964, AUROC
        0.988 both, labels unchanged (compared on test gold); chosen on every covered row against the combined
        distribution with the LLM, T = 1.00. On synthetic data (random rule firing, an LLM right on 70 %) it lowered
        the risk ECE when the features were strong and raised it by up to 0.007 when they were weak."""
        rows = (np.delete(L, list(tuned), axis=1) >= 0).any(axis=1) if tuned else final >= 0
        if not rows.any():
            return 1.0
        target = _softmax(comb.scores(L, log_h, exclude=list(tuned)))
        P = cross_fitted_proba(self.n_classes, final, X, q, self.combine_folds, self.seed + 7919,
                               C=self.fallback_model_.chosen_C_)
        return fit_temperature(P[rows], target[rows])

    def _combination_votes(self, L: np.ndarray) -> np.ndarray:
        """``L`` with the silenced sources' votes (tuned weight 0) set to abstain: the votes the combination reads."""
        silenced = getattr(self, "silenced_sources_", [])
        if not silenced:
            return L
        L = L.copy()
        L[:, silenced] = -1
        return L

    def _shift_pools(self) -> list[list[int]]:
        """The pools of sources the vote-shift check compares separately: the tuned sources (the LLM, which votes on
        nearly every row) and the others. Pooled together, a well-behaved LLM's many votes hid the shift of WRENCH
        sms's rules on a 400-row subset (agreement 0.799 → 0.729, z 2.9: not flagged; the rules alone: flagged)."""
        silenced = set(getattr(self, "silenced_sources_", []))
        tuned = [j for j in (self.tune_sources or []) if j not in silenced]
        rest = [j for j in range(self.n_sources_) if j not in tuned and j not in silenced]
        return [cols for cols in (rest, tuned) if cols]

    def _cross_fit(self, X: np.ndarray, L: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """log of h(x) for every row, each scored by an h fitted on the other folds; shape (n, k)."""
        n = X.shape[0]
        out = np.empty((n, self.n_classes))
        order = np.random.default_rng(self.seed + 7919).permutation(n)
        for f, held in enumerate(np.array_split(order, min(self.combine_folds, n))):
            train = np.setdiff1d(np.arange(n), held)
            twin = self.fold_copy(weights, seed=self.seed + f)
            out[held] = np.log(np.clip(twin.fit(L[train], X[train])._proba(X[held]), 1e-6, 1.0))
        return out

    def _cross_fit_stage2(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log of the second-stage classifier for every row, each scored by one fitted on the other folds."""
        n = X.shape[0]
        out = np.empty((n, self.n_classes))
        order = np.random.default_rng(self.seed + 7919).permutation(n)
        for held in np.array_split(order, min(self.combine_folds, n)):
            train = np.setdiff1d(np.arange(n), held)
            out[held] = np.log(np.clip(FeatureClassifier(self.n_classes).fit(y[train], X[train]).proba(X[held]),
                                       1e-6, 1.0))
        return out

    def _prior_proba(self, X: np.ndarray) -> np.ndarray:
        """The prior of the combination at prediction time: the second stage when there is one, else h."""
        pm = getattr(self, "prior_model_", None)
        if pm is None:
            return self._proba(X)
        return pm.proba(X) if isinstance(pm, FeatureClassifier) else pm._proba(X)

    def fold_copy(self, weights: np.ndarray, seed: int) -> "PolarHarmonizer":
        """An unfitted copy with fixed ``weights`` and no tuning (for cross-fitting)."""
        twin = copy.copy(self)               # fit() sets every fitted attribute afresh
        twin.weights, twin.tune_sources, twin.seed = np.asarray(weights, dtype=np.float64), None, int(seed)
        twin.n_seeds = 1
        twin.combine, twin._quiet = H_ONLY, True
        return twin

    def _check_gold(self, y: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(y).reshape(-1).astype(np.int64)
        if y.shape[0] != n:
            raise InputError(f"select_with_gold has {y.shape[0]} labels for {n} held-out rows",
                             column="select_with_gold", fix="give one gold label (or -1) per held-out row")
        if ((y < -1) | (y >= self.n_classes)).any() or not (y >= 0).any():
            raise InputError("select_with_gold needs labels in 0..k-1 (-1 = unknown), at least one known",
                             column="select_with_gold", fix="pass the gold labels of the validation rows")
        return y

    def _tensor(self, X: np.ndarray) -> torch.Tensor:
        Z = np.subtract(X, self.mean_, dtype=np.float32)
        Z /= self.scale_
        return torch.from_numpy(Z).to(self.device)

    def _train(self, Xt: np.ndarray, Lt: np.ndarray, Xv: np.ndarray | None, Lv: np.ndarray | None,
               gold_v: np.ndarray | None, weights: np.ndarray) -> None:
        threads = torch.get_num_threads()
        want = self.num_threads
        if want == "auto":
            want = 1 if (self.model == "lr" or Xt.shape[0] * Xt.shape[1] <= 2e7) else None
        if want:
            torch.set_num_threads(int(want))
        try:
            self._train_loop(Xt, Lt, Xv, Lv, gold_v, weights)
        finally:
            torch.set_num_threads(threads)

    def _objective(self, net: torch.nn.Module, x: torch.Tensor, agg: torch.Tensor,
                   class_major: bool = False) -> torch.Tensor:
        """Mean scalarized loss. ``class_major``: x is (d, b), agg is (k, b) and net is the LR
        (computing W x + b in that layout is ~10x faster on CPU for small k)."""
        if class_major:
            lin = net.linear
            logits = lin.weight @ x + lin.bias[:, None]
            nll = -torch.log_softmax(logits, dim=0)
            return scalarize_by_class(self.scalarization, nll, agg, dim=0).mean()
        nll = -torch.log_softmax(net(x), dim=1)
        return scalarize_by_class(self.scalarization, nll, agg).mean()

    def _penalty(self, net: torch.nn.Module) -> torch.Tensor:
        return 0.5 * self.weight_decay * sum((p * p).sum() for n, p in net.named_parameters()
                                             if not n.endswith("bias"))

    def _train_loop(self, Xt: np.ndarray, Lt: np.ndarray, Xv: np.ndarray | None,
                    Lv: np.ndarray | None, gold_v: np.ndarray | None, weights: np.ndarray) -> None:
        """Train h on the fit rows ``Xt`` (n, d) / ``Lt`` (n, m) with early stopping on the held-out rows (``Xv``
        with their votes ``Lv`` or gold ``gold_v``, when given): build the net (:func:`build_model`), lay out the
        tensors (:meth:`_train_tensors`), pick the optimizer (:meth:`_optimizer`), then one epoch at a time
        (:meth:`_epoch`, :meth:`_valid_loss`) keep the parameters of the best held-out loss. L-BFGS (full batch)
        also stops when the training loss no longer changes. Seeded by ``seed`` (the global torch generator is
        restored afterwards). Sets ``model_``, ``history_``, ``best_epoch_``."""
        use_lbfgs = self.optimizer == "lbfgs" or (self.optimizer == "auto" and self.model == "lr"
                                                  and self.scalarization != "max")
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(self.seed)   # CPU only; restored by fork_rng
            gen = torch.Generator().manual_seed(self.seed)
            net = build_model(self.model, Xt.shape[1], self.n_classes, hidden=self.hidden).to(self.device)
            data = self._train_tensors(Xt, Lt, Xv, Lv, gold_v, weights, full_batch=use_lbfgs)
            opt, closure = self._optimizer(net, data, use_lbfgs)
            best, best_state, best_epoch, bad = float("inf"), None, 0, 0
            prev_train = float("inf")
            history: list[EpochRecord] = []
            for epoch in range(1, self.epochs + 1):
                train_loss = self._epoch(net, opt, closure, data, gen)
                vloss = self._valid_loss(net, data)
                history.append(EpochRecord(epoch, train_loss, vloss))
                converged = use_lbfgs and abs(prev_train - train_loss) <= 1e-7 * max(1.0, abs(train_loss))
                prev_train = train_loss
                if vloss is not None:
                    if vloss < best - self.min_delta:
                        best, best_epoch, bad = vloss, epoch, 0
                        best_state = copy.deepcopy(net.state_dict())
                    else:
                        bad += 1
                        if bad >= self.patience:
                            break
                if converged:
                    break
            if best_state is not None:
                net.load_state_dict(best_state)
            else:
                best_epoch = len(history)
        net.eval()
        self.model_ = net
        self.history_ = history
        self.best_epoch_ = best_epoch

    def _train_tensors(self, Xt: np.ndarray, Lt: np.ndarray, Xv: np.ndarray | None, Lv: np.ndarray | None,
                       gold_v: np.ndarray | None, weights: np.ndarray, full_batch: bool) -> "_TrainTensors":
        """The training tensors: features, per-class vote aggregates (:func:`class_aggregate` of the
        scalarization, weighted by ``weights`` (m,)), the same for the held-out rows (or their gold), the batch
        size (all rows with ``full_batch`` or no ``batch_size``) and, for a full-batch linear h, the class-major
        (transposed) layout :meth:`_objective` reads faster."""
        kind, k = self.scalarization, self.n_classes
        w = torch.as_tensor(weights, dtype=torch.float32, device=self.device)
        xt = self._tensor(Xt)
        at = class_aggregate(kind, torch.from_numpy(Lt).to(self.device), w, k)
        xv = av = gv = None
        has_valid = Xv is not None and (gold_v is not None or Lv is not None)
        if has_valid:
            xv = self._tensor(Xv)
            av = class_aggregate(kind, torch.from_numpy(Lv).to(self.device), w, k) if Lv is not None else None
            gv = torch.from_numpy(gold_v).to(self.device) if gold_v is not None else None
        n = xt.shape[0]
        bs = n if (full_batch or not self.batch_size) else min(int(self.batch_size), n)
        cm = self.model == "lr" and bs == n            # full batch LR: class-major layout
        if cm:
            xt, at = xt.t().contiguous(), at.t().contiguous()
            if has_valid:
                xv = xv.t().contiguous()
                av = av.t().contiguous() if av is not None else None
        return _TrainTensors(xt, at, xv, av, gv, has_valid, n, bs, cm)

    def _optimizer(self, net: torch.nn.Module, data: "_TrainTensors", use_lbfgs: bool):
        """``(optimizer, closure)``: L-BFGS (full batch; one "epoch" = up to ``lbfgs_iter`` quasi-Newton
        iterations) with the closure it calls, or Adam (``lr``, ``weight_decay``) and None."""
        if not use_lbfgs:
            return torch.optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay), None
        opt = torch.optim.LBFGS(net.parameters(), lr=1.0, max_iter=self.lbfgs_iter, history_size=20,
                                line_search_fn="strong_wolfe", tolerance_grad=1e-7, tolerance_change=1e-10)

        def closure():
            opt.zero_grad(set_to_none=True)
            loss = self._objective(net, data.xt, data.at, data.cm) + self._penalty(net)
            loss.backward()
            return loss
        return opt, closure

    def _epoch(self, net: torch.nn.Module, opt, closure, data: "_TrainTensors", gen: torch.Generator) -> float:
        """One epoch; returns the training loss (L-BFGS: after its step; Adam: the mean over minibatches, drawn in
        the order of ``gen`` when they are smaller than the data)."""
        net.train()
        if closure is not None:
            opt.step(closure)
            with torch.no_grad():
                return float(self._objective(net, data.xt, data.at, data.cm))
        n, bs = data.n, data.bs
        order = torch.randperm(n, generator=gen) if bs < n else None
        total = 0.0
        for start in range(0, n, bs):
            if order is None:
                xb, ab = data.xt, data.at
            else:
                idx = order[start:start + bs]
                xb, ab = data.xt[idx], data.at[idx]
            loss = self._objective(net, xb, ab, data.cm)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += float(loss.detach()) * xb.shape[0]
        return total / n

    def _valid_loss(self, net: torch.nn.Module, data: "_TrainTensors") -> float | None:
        """The held-out loss: cross-entropy against the gold labels (>= 0) when given, else the training objective
        on the held-out votes; None without held-out rows."""
        if not data.has_valid:
            return None
        net.eval()
        with torch.no_grad():
            if data.gv is not None:
                known = data.gv >= 0
                logits = net(data.xv.t() if data.cm else data.xv)
                return float(torch.nn.functional.cross_entropy(logits[known], data.gv[known]))
            return float(self._objective(net, data.xv, data.av, data.cm))

    # ------------------------------------------------------------------ prediction
    def _proba(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self.model_(self._tensor(X)), dim=1).cpu().numpy().astype(np.float64)

    def predict_proba(self, L: np.ndarray | None = None, X: np.ndarray | None = None,
                      exclude: Sequence[int] = (), use_votes: bool | None = None) -> np.ndarray:
        """The final class distributions, shape (n, k), rows sum to 1.

        With ``L`` (shape (n, m), the rows' votes) and a combined output chosen at fit (``combine_``, see
        :mod:`polarlab.harmonizer.combiners`): the candidate's ``softmax((votes' evidence + tau · log prior(x)) / T)``
        with the sources in ``exclude`` left out (prior: ``prior_model_`` or h). Without ``L``, or when h alone
        was chosen: h(x), which also scores rows no source voted on.

        Args:
            L: shape (n, m) or None.
            X: shape (n, d).
            exclude: columns of L left out (the POLAR risk of source j's answer excludes j's own vote).
            use_votes: ``None`` (default): features only when ``labels_from_`` is ``"features"``; else check
                whether these rows' votes behave like the fit rows'
                (:meth:`vote_shift`, decided on all the rows given, before ``exclude``); if they do not, the
                rows are labelled from their features alone by the two-stage classifier ``fallback_model_``
                at ``fallback_temperature_`` (with a :class:`SupervisionWarning`). ``True``/``False``: combine / features only, unchecked.

        With ``n_seeds`` > 1: the mean of the members' distributions (this fit's and ``seed_members_``'), the
        vote-shift check made once for all of them (:meth:`vote_shift`); a member whose fit chose
        ``labels_from = "features"`` labels every row from its features whatever ``use_votes`` says (``use_votes``
        decides for the others).
        """
        X, L = self._checked_rows(L, X, exclude)
        members = getattr(self, "seed_members_", [])
        if not members:
            return self._member_proba(L, X, exclude, use_votes)
        combining = self._combining_members()
        priors: dict[int, np.ndarray] = {}       # each member's prior, computed once for the check and its output
        if use_votes is None and L is not None and combining:
            priors = {id(m): m._prior_proba(X) for m in combining}
            shift = self._majority_shift(combining, L, [priors[id(m)] for m in combining])
            use_votes = not shift.shifted
            if not use_votes:
                self._warn_shift(shift, len(L))
        return np.mean([m._member_proba(L, X, exclude, False if m.labels_from_ == "features" else use_votes,
                                        prior=priors.get(id(m))) for m in (self, *members)], axis=0)

    def _checked_rows(self, L: np.ndarray | None, X: np.ndarray | None,
                      exclude: Sequence[int] = ()) -> tuple[np.ndarray, np.ndarray | None]:
        """``(X, L)`` checked against the fit: X (n, d) float32 with the fit's d; L (n, m) with its m (unchecked when no
        member reads the votes), or None."""
        if not hasattr(self, "model_"):
            raise NotFittedError("the harmonizer is not fitted", fix="call fit(L, X) first")
        X = self._check_X(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[1]} features, the harmonizer was fitted on "
                             f"{self.n_features_in_}", column="X",
                             fix="compute features with the same fitted feature extractor")
        if L is None or not self._combining_members():       # h(x) alone: the votes are not read
            return X, L
        L = self._check_L(L, X.shape[0])
        if L.shape[1] != self.n_sources_:
            raise InputError(f"L has {L.shape[1]} sources, the harmonizer was fitted on {self.n_sources_}",
                             column="L", fix="pass the same sources in the same order")
        bad = [j for j in exclude if not 0 <= j < self.n_sources_]
        if bad:
            raise InputError(f"exclude {bad} are not columns of L", column="exclude", fix="give column indices")
        return X, L

    def _combining_members(self) -> list["PolarHarmonizer"]:
        """The members of the seed ensemble (this fit first) whose final distribution reads the votes."""
        return [m for m in (self, *getattr(self, "seed_members_", []))
                if getattr(m, "combiner_", None) is not None and m.combine_ != H_ONLY]

    def _member_proba(self, L: np.ndarray | None, X: np.ndarray | None, exclude: Sequence[int],
                      use_votes: bool | None, prior: np.ndarray | None = None) -> np.ndarray:
        """This fit's own distributions (:meth:`predict_proba` without the seed ensemble; rows checked there);
        ``prior``: :meth:`_prior_proba` of ``X`` (n, k) when the caller already computed it."""
        if L is None or getattr(self, "combiner_", None) is None or self.combine_ == H_ONLY:
            return self._proba(X)
        h = self._prior_proba(X) if prior is None else prior
        L = self._combination_votes(L)
        if use_votes is None and getattr(self, "labels_from_", "votes") == "features":
            use_votes = False                   # chosen at fit: the features label every row (no shift check)
        if use_votes is None:
            shift = self._vote_shift(L, h)
            use_votes = not shift.shifted
            if not use_votes:
                self._warn_shift(shift, L.shape[0])
        if not use_votes and self.fallback_model_ is not None:
            P = np.clip(self.fallback_model_.proba(X), 0.0, 1.0)
            return sharpen(P, getattr(self, "fallback_temperature_", 1.0))
        log_h = np.log(np.clip(h, 1e-6, 1.0))
        return self.combiner_.posterior(L, log_h, exclude=list(exclude))

    def _warn_shift(self, shift: VoteShift, n: int) -> None:
        msg = (f"the votes of these {n} rows agree with the features-only classifier on {shift.agreement:.3f} of "
               f"{shift.votes} votes, against {shift.fit_agreement:.3f} on the fit rows (z = {shift.z:.1f}): the "
               "sources do not behave as they did on the fit rows, so these rows are labelled from their features "
               "alone (the two-stage classifier); check that the votes were computed by the same sources on the "
               "same kind of data")
        warn(msg, None if msg in self.warnings_ else self.warnings_)

    def _vote_shift(self, L: np.ndarray, prior: np.ndarray) -> VoteShift:
        """The check of each pool of sources (:meth:`_shift_pools`) on the combination's votes ``L``: the first pool
        that shifted, else the first pool's (the rules') result."""
        labels = prior.argmax(axis=1)
        fit = getattr(self, "fit_vote_agreement_", [])
        if isinstance(fit, tuple):                      # a harmonizer fitted before the pools
            fit = [fit]
        pools = self._shift_pools() if len(fit) > 1 else [list(range(L.shape[1]))]
        checks = [compare_shift(*f, *vote_agreement(L[:, cols], labels)) for f, cols in zip(fit, pools)]
        if not checks:
            return compare_shift(0, 0, *vote_agreement(L, labels))
        return next((c for c in checks if c.shifted), checks[0])

    def vote_shift(self, L: np.ndarray, X: np.ndarray) -> VoteShift:
        """Do the votes ``L`` (n, m) of the rows ``X`` (n, d) behave like the fit rows' votes?
        (:mod:`polarlab.harmonizer.shift`; ``predict_proba`` with ``use_votes=None`` makes this check.) A seed
        ensemble decides by the majority of its members that read the votes (a tie: shifted); the result is the
        check of the first member on the majority's side."""
        members = self._combining_members()
        if not members:
            raise NotFittedError("the harmonizer has no combined output", fix="fit it with combine != 'h'")
        X, L = self._checked_rows(L, X)
        return self._majority_shift(members, L, [m._prior_proba(X) for m in members])

    @staticmethod
    def _majority_shift(members: Sequence["PolarHarmonizer"], L: np.ndarray,
                        priors: Sequence[np.ndarray]) -> VoteShift:
        """:meth:`vote_shift` of the checked votes ``L`` (n, m) for ``members`` (those that read the votes), each
        with its prior's distributions (n, k) of the rows, ``priors`` (in the same order)."""
        checks = [m._vote_shift(m._combination_votes(L), p) for m, p in zip(members, priors)]
        shifted = 2 * sum(c.shifted for c in checks) >= len(checks)
        return next(c for c in checks if c.shifted == shifted)

    def predict_h(self, X: np.ndarray) -> np.ndarray:
        """The features-only model h(x), shape (n, k) (the prior of the combination is ``prior_model_`` when
        ``refit_prior`` made one)."""
        return self.predict_proba(None, X)

    def predict(self, L: np.ndarray | None = None, X: np.ndarray | None = None) -> np.ndarray:
        """Argmax of :meth:`predict_proba`, shape (n,)."""
        return self.predict_proba(L, X).argmax(axis=1)


@dataclass
class _TrainTensors:
    """What :meth:`PolarHarmonizer._train_loop` trains on (:meth:`PolarHarmonizer._train_tensors`): the fit rows'
    features ``xt`` and per-class vote aggregates ``at`` (n, d) / (n, k), class-major (transposed) when ``cm``; the
    held-out rows' ``xv``, ``av`` (or None) and gold ``gv`` (or None); ``has_valid``; n rows; batch size ``bs``."""

    xt: torch.Tensor
    at: torch.Tensor
    xv: torch.Tensor | None
    av: torch.Tensor | None
    gv: torch.Tensor | None
    has_valid: bool
    n: int
    bs: int
    cm: bool


class VotesDecided:
    """A fitted harmonizer whose vote-shift check (``predict_proba(use_votes=None)``) was made once, on a whole
    split, so that predicting that split in row blocks or partitions gives every block the same decision.
    ``shift``: the check's :class:`VoteShift` (None when the harmonizer does not read the votes)."""

    def __init__(self, model: PolarHarmonizer, use_votes: bool | None, shift: VoteShift | None = None) -> None:
        self.model = model
        self.use_votes = use_votes
        self.shift = shift

    @classmethod
    def for_split(cls, model: PolarHarmonizer, L: np.ndarray, X: np.ndarray) -> "VotesDecided":
        """Check ``L`` (n, m) / ``X`` (n, d) once (a warning when the votes shifted)."""
        if not model._combining_members() or L is None or not len(L):
            return cls(model, None)
        if all(getattr(m, "labels_from_", "votes") == "features" for m in model._combining_members()):
            return cls(model, False)    # every member chose the features at fit: no check (as predict_proba does)
        shift = model.vote_shift(L, X)
        if shift.shifted:
            model._warn_shift(shift, len(L))
        return cls(model, not shift.shifted, shift)

    def predict_proba(self, L: np.ndarray | None = None, X: np.ndarray | None = None, **kwargs) -> np.ndarray:
        return self.model.predict_proba(L, X, use_votes=self.use_votes, **kwargs)
