"""Training h(x), the harmonizer's features-only model, on the scalarized objective over every source's votes.

:class:`TrainingMixin` is the part of :class:`polarlab.harmonizer.polar.PolarHarmonizer` that scales the features,
lays out the training tensors, runs Adam or L-BFGS with early stopping on held-out rows and scores rows with h.
It reads the harmonizer's settings (``model``, ``scalarization``, ``epochs``, ``lr``, ``weight_decay``, ``hidden``,
``batch_size``, ``patience``, ``min_delta``, ``num_threads``, ``optimizer``, ``lbfgs_iter``, ``standardize``,
``device``, ``seed``, ``n_classes``).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch

from .models import build_model
from .scalarize import class_aggregate, scalarize_by_class


@dataclass
class EpochRecord:
    """One epoch of training: mean training objective and the selection metric."""

    epoch: int
    train_loss: float
    valid_loss: float | None


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


class TrainingMixin:
    """h(x) and its training (mixed into :class:`~polarlab.harmonizer.polar.PolarHarmonizer`)."""

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

    def _proba(self, X: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return torch.softmax(self.model_(self._tensor(X)), dim=1).cpu().numpy().astype(np.float64)
