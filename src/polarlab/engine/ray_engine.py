"""The Ray engine: sources applied and models evaluated partition by partition on a Ray cluster.

What moves over the network: each partition's rows (the dataset frame slice, pickled) and, once per call, the
sources (cloudpickled: Python functions, keyword lists, compiled patterns) or the fitted model; back come the
partition's votes (n_part × m int64), LLM distributions where a source gives them, and failure records. Nothing
is written by workers: the driver assembles the matrix and is the single writer of the project state and of the
LLM cache. LLM sources therefore run in the driver (their answers are cached there; a remote server is already
parallel behind its own endpoint), every other source on the cluster.

A partition whose worker dies is retried by Ray (``max_retries``); since sources are pure functions of the rows,
a retried partition gives the same votes, and the assembled result is identical to the local engine's.

Running on an existing cluster: ``ray start --head`` on one machine, ``ray start --address=HEAD:6379`` on the
others, then ``[engine] kind = "ray"`` and ``address = "auto"`` in the project file on the head node. The
polarlab package (and anything the project's labeling functions import) must be installed on every node.
"""
from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..matrix.apply import apply_sources, check_source_failures
from ..matrix.label_matrix import LabelMatrix
from ..sources.base import SourceFailure
from ..task import Task


def _is_llm(source: Any) -> bool:
    return hasattr(source, "ask")          # LLM sources: answered in the driver, through its cache


def _apply_partition(part: Dataset, sources: Sequence[Any], task: Task) -> tuple[np.ndarray, dict, list, float]:
    t = time.perf_counter()
    # failures are judged on the whole split by the driver, not per partition
    lm = apply_sources(part, sources, task, progress=False, fault_tolerant=True)
    return lm.L, lm.probas, lm.failures, time.perf_counter() - t


def _predict_partition(model: Any, L: np.ndarray | None, X: np.ndarray | None) -> np.ndarray:
    return np.asarray(model.predict_proba(L, X))


class RayEngine:
    """Row-parallel work on a Ray cluster.

    Parameters:
        address: the cluster (``"auto"``: the one ``ray start`` began on this machine; None: start a local one).
        partition_rows: rows per partition (task).
        max_retries: times a partition is retried when its worker dies.
        num_cpus: CPUs of a local cluster started here (None: all).
        progress: accepted for symmetry with the local engine.
    """

    def __init__(self, address: str | None = None, partition_rows: int = 50_000, max_retries: int = 3,
                 num_cpus: int | None = None, progress: bool = True) -> None:
        try:
            import ray
        except ImportError:  # pragma: no cover - ray is an optional extra
            raise ConfigError("[engine] kind = \"ray\" needs Ray installed", column="engine.kind",
                              fix='pip install "polarlab[ray]"') from None
        if int(partition_rows) < 1:
            raise ConfigError(f"partition_rows = {partition_rows}", column="engine.partition_rows",
                              fix="use a positive number of rows")
        self._ray = ray
        self.address, self.partition_rows, self.max_retries = address, int(partition_rows), int(max_retries)
        self.partition_seconds: list[float] = []      # per-partition wall time of the last apply_sources
        if not ray.is_initialized():
            kw: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address is not None:
                kw["address"] = address
            elif num_cpus is not None:
                kw["num_cpus"] = int(num_cpus)
            ray.init(**kw)
            self._owns = True
        else:
            self._owns = False
        self._apply = ray.remote(max_retries=self.max_retries)(_apply_partition)
        self._predict = ray.remote(max_retries=self.max_retries)(_predict_partition)

    def _bounds(self, n: int) -> list[tuple[int, int]]:
        return [(s, min(n, s + self.partition_rows)) for s in range(0, n, self.partition_rows)] or [(0, 0)]

    def apply_sources(self, data: Dataset, sources: Sequence[Any], task: Task, *, fault_tolerant: bool = False,
                      max_failure_share: float = 1.0) -> LabelMatrix:
        """The label matrix of ``data``, as :func:`polarlab.matrix.apply_sources` gives it (same failure policy)."""
        ray = self._ray
        remote = [s for s in sources if not _is_llm(s)]
        local = [s for s in sources if _is_llm(s)]
        n = len(data)
        bounds = self._bounds(n)
        srcs = ray.put(remote)
        refs = [self._apply.remote(data.subset(np.arange(a, b)), srcs, task) for a, b in bounds]
        parts = ray.get(refs)
        self.partition_seconds = [p[3] for p in parts]
        names = [s.name for s in sources]
        L = np.full((n, len(sources)), -1, dtype=np.int64)
        cols = [names.index(s.name) for s in remote]
        probas: dict[str, np.ndarray] = {}
        failures: list[SourceFailure] = []
        for (a, b), (Lp, probas_p, fails_p, _) in zip(bounds, parts):
            L[a:b, cols] = Lp
            for name, P in probas_p.items():
                probas.setdefault(name, np.full((n, task.n_classes), np.nan))[a:b] = P
            failures += [SourceFailure(f.source, f.row + a, f.example_id, f.error) for f in fails_p]
        for s in remote:
            found = [f for f in failures if f.source == s.name]
            if found:
                check_source_failures(s, found, n, data, fault_tolerant, max_failure_share)
        if local:
            lm = apply_sources(data, local, task, progress=False, fault_tolerant=fault_tolerant,
                               max_failure_share=max_failure_share)
            for s in local:
                L[:, names.index(s.name)] = lm.column(s.name)
            probas.update(lm.probas)
            failures += lm.failures
        failures.sort(key=lambda f: (names.index(f.source), f.row))
        return LabelMatrix(L=L, names=names, ids=data.ids, n_classes=task.n_classes, probas=probas,
                           failures=failures)

    def predict_proba(self, model: Any, L: np.ndarray | None, X: np.ndarray | None) -> np.ndarray:
        ray = self._ray
        n = (L if L is not None else X).shape[0]
        ref = ray.put(model)
        refs = [self._predict.remote(ref, None if L is None else L[a:b], None if X is None else X[a:b])
                for a, b in self._bounds(n)]
        return np.vstack(ray.get(refs))

    def close(self) -> None:
        if self._owns and self._ray.is_initialized():
            self._ray.shutdown()
