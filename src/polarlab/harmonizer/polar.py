"""The POLAR harmonizer: a model h(x) fitted to every supervision source at once.

Zhao, Wei, Preston, Poon, "Automatic Calibration and Error Correction for Large Language
Models via Pareto Optimal Self-Supervision" (arXiv 2306.16564). No gold labels are used:
h is trained to minimise ``mean_i G(w_1 l_1(x_i), ..., w_m l_m(x_i))`` where
``l_j(x_i) = CE(h(x_i), L_ij)`` for every source j that voted on example i (see
:mod:`polarlab.harmonizer.scalarize` for G). The POLAR risk of the LLM's answer ``a_i`` is
then ``1 - h(x_i)[a_i]`` (:func:`polarlab.risk.risk_score`).

The class is :class:`PolarHarmonizer`; its parts live in small modules mixed into it:
:mod:`~polarlab.harmonizer.training` (h(x) and its training), :mod:`~polarlab.harmonizer.weights` (the source weights,
the LLM's tuned without gold), :mod:`~polarlab.harmonizer.combination` (the final distribution, its second stage and
temperature), :mod:`~polarlab.harmonizer.fallback` (the vote-shift check and the features-only classifier) and
:mod:`~polarlab.harmonizer.ensemble` (the seed ensemble, ``n_seeds``, and :class:`VotesDecided`). This module holds
the constructor, the checks of the rows, :meth:`PolarHarmonizer.fit` and :meth:`PolarHarmonizer.predict_proba`.
"""
from __future__ import annotations

import copy
from typing import Iterator, Literal, Sequence

import numpy as np

from ..errors import InputError, NotFittedError
from ..labelmodels.base import LabelModelBase
from ..validation import check_votes
from .combination import CombinationMixin
from .combine import H_ONLY
from .combiners import DEFAULT_CANDIDATES
from .diagnostics import NoVoteWarning, classes_without_votes, warn
from .ensemble import EnsembleMixin, VotesDecided
from .fallback import FallbackMixin
from .params import SEED_STRIDE, check_params
from .stage2 import sharpen
from .training import EpochRecord, TrainingMixin
from .weights import WeightsMixin

__all__ = ["PolarHarmonizer", "EpochRecord", "VotesDecided", "SEED_STRIDE", "WeightSpec"]

WeightSpec = None | Literal["equal", "max_eigen", "min_var"] | Sequence[float] | np.ndarray


class PolarHarmonizer(TrainingMixin, WeightsMixin, CombinationMixin, FallbackMixin, EnsembleMixin, LabelModelBase):
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
        combine_groups_by: how those groups are made (:mod:`polarlab.harmonizer.groups`): ``"random"`` (default, a
            seeded random partition), ``"dependency"`` (sources that vote the same class on the same rows beyond
            chance are left out together) or ``"conditional"`` (sources that vote the same wrong class beyond what
            the label, estimated without gold, explains; both opt-in, measured in ``docs/results/label_quality.md``).
        combine_se: the ``"auto"`` selection keeps the first of ``combine_candidates`` (simplest first) whose
            held-out agreement is within this many bootstrap standard errors of the best one's (the
            one-standard-error rule, :func:`polarlab.harmonizer.select.one_se_choice`); 0 = the best score, which
            is also what is used while a tuned source (the LLM) is heard (``mv`` would ignore its tuned weight).
        refit_prior: after the choice, refit h to the chosen distribution's labels of the fit rows (same
            model and features) and use it as the prior of the same candidate (a second stage).
        refit_rows: the rows that second stage learns from: ``"all"`` (default; the rows no source voted on
            too, labelled by the first prior itself) or ``"covered"`` (rows some source voted on, as the
            two-stage pipeline does; measured in docs/results/label_quality.md, not the default).
        stage2: the second-stage model: ``"lr"`` (:class:`polarlab.harmonizer.stage2.FeatureClassifier`,
            a logistic regression whose L2 strength is chosen by cross-validated log-loss on the labels) or
            ``"h"`` (default; the harmonizer's own model, early-stopped, ``weight_decay``).
        combine_folds: folds of the cross-fitted h that serves as the prior on the fit rows.
        labels_from: whether the final labels read each row's votes (``"votes"``, default: the chosen candidate) or
            its features only (``"features"``: the two-stage classifier ``fallback_model_`` trained on the
            candidate's distributions); ``"auto"`` chooses by the same held-out agreement, the better score
            (:mod:`polarlab.harmonizer.labels_from`; only after an ``"auto"`` selection, else the votes). Opt-in:
            measured in docs/results/label_quality.md, it helped on noisy LLM-written rules and hurt on
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
                 labels_from: str = "votes", n_seeds: int = 1, combine_groups_by: str = "random") -> None:
        if isinstance(tune_grid, Iterator):        # a one-shot iterator: read once, by the checks and the store
            tune_grid = list(tune_grid)
        check_params(n_classes=n_classes, model=model, scalarization=scalarization, weights=weights,
                     val_fraction=val_fraction, num_threads=num_threads, optimizer=optimizer, tune_grid=tune_grid,
                     tune_folds=tune_folds, combine=combine, combine_candidates=combine_candidates,
                     combine_groups=combine_groups, combine_folds=combine_folds, combine_se=combine_se,
                     refit_rows=refit_rows, stage2=stage2, labels_from=labels_from, n_seeds=n_seeds,
                     combine_groups_by=combine_groups_by)
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
        self.combine_groups_by = combine_groups_by
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

    def _check_gold(self, y: np.ndarray, n: int) -> np.ndarray:
        y = np.asarray(y).reshape(-1).astype(np.int64)
        if y.shape[0] != n:
            raise InputError(f"select_with_gold has {y.shape[0]} labels for {n} held-out rows",
                             column="select_with_gold", fix="give one gold label (or -1) per held-out row")
        if ((y < -1) | (y >= self.n_classes)).any() or not (y >= 0).any():
            raise InputError("select_with_gold needs labels in 0..k-1 (-1 = unknown), at least one known",
                             column="select_with_gold", fix="pass the gold labels of the validation rows")
        return y

    # ------------------------------------------------------------------ fitting
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
                 "add a rule or source that votes for them", self.warnings_, NoVoteWarning)

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

    def fold_copy(self, weights: np.ndarray, seed: int) -> "PolarHarmonizer":
        """An unfitted copy with fixed ``weights`` and no tuning (for cross-fitting)."""
        twin = copy.copy(self)               # fit() sets every fitted attribute afresh
        twin.weights, twin.tune_sources, twin.seed = np.asarray(weights, dtype=np.float64), None, int(seed)
        twin.n_seeds = 1
        twin.combine, twin._quiet = H_ONLY, True
        return twin

    # ------------------------------------------------------------------ prediction
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
        if not getattr(self, "seed_members_", []):
            return self._member_proba(L, X, exclude, use_votes)
        return self._ensemble_proba(L, X, exclude, use_votes)

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

    def predict_h(self, X: np.ndarray) -> np.ndarray:
        """The features-only model h(x), shape (n, k) (the prior of the combination is ``prior_model_`` when
        ``refit_prior`` made one)."""
        return self.predict_proba(None, X)

