"""The engine protocol and its registry."""
from __future__ import annotations

from typing import Any, Callable, Protocol, Sequence, runtime_checkable

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..matrix.label_matrix import LabelMatrix
from ..task import Task


@runtime_checkable
class Engine(Protocol):
    """Runs the row-parallel parts of a job.

    ``apply_sources`` gives the same :class:`LabelMatrix` whatever the engine (rows in ``data``'s order,
    failures with 0-based row positions); ``predict_proba`` gives ``model.predict_proba(L, X)`` row blocks
    stacked in order, shape (n, k).
    """

    def apply_sources(self, data: Dataset, sources: Sequence[Any], task: Task, *, fault_tolerant: bool = False,
                      max_failure_share: float = 1.0) -> LabelMatrix: ...

    def predict_proba(self, model: Any, L: np.ndarray | None, X: np.ndarray | None) -> np.ndarray: ...

    def close(self) -> None: ...


ENGINES: dict[str, Callable[..., Engine]] = {}

#: The ``[engine]`` keys each kind reads (besides ``kind``); a key another kind reads is refused for this one.
ENGINE_KEYS: dict[str, frozenset[str]] = {}


def register_engine(kind: str, factory: Callable[..., Engine], keys: Sequence[str] | None = None) -> None:
    """Make ``[engine] kind = "<kind>"`` build ``factory(**options)``; ``keys``: the ``[engine]`` keys it reads
    (None: not declared, so no key is refused for it)."""
    ENGINES[kind] = factory
    if keys is not None:
        ENGINE_KEYS[kind] = frozenset(keys)
    else:
        ENGINE_KEYS.pop(kind, None)


def foreign_engine_keys(kind: str, keys: Sequence[str]) -> list[str]:
    """Those of ``keys`` that only another engine kind reads (e.g. ``address`` with kind ``"local"``): a project
    that sets them would silently run without them. Empty for a kind that declared no keys."""
    own = ENGINE_KEYS.get(kind)
    if own is None:
        return []
    others = set().union(*(ks for k, ks in ENGINE_KEYS.items() if k != kind)) if len(ENGINE_KEYS) > 1 else set()
    return [k for k in keys if k not in own and k in others]


def foreign_key_problem(kind: str, key: str, default: bool = False) -> tuple[str, str]:
    """The message and fix for ``key`` set with an engine ``kind`` that does not read it (``default``: the table
    left ``kind`` unset)."""
    readers = sorted(k for k, ks in ENGINE_KEYS.items() if key in ks)
    wanted = " or ".join(f'kind = "{k}"' for k in readers)
    return (f'{key!r} is read only by {wanted}, but [engine] kind is "{kind}"'
            f'{" (the default)" if default else ""}, which would ignore it',
            f"set {wanted} or remove {key}")


def make_engine(kind: str = "local", **options: Any) -> Engine:
    """The engine ``kind`` with ``options`` (the ``[engine]`` table less ``kind``).

    Raises:
        ConfigError: an unknown kind or option, or an option only another kind reads.
    """
    if kind not in ENGINES:
        raise ConfigError(f"unknown engine kind {kind!r}", column="engine.kind", fix=f"use one of {sorted(ENGINES)}")
    for key in foreign_engine_keys(kind, list(options)):
        message, fix = foreign_key_problem(kind, key)
        raise ConfigError(message, column=f"engine.{key}", fix=fix)
    try:
        return ENGINES[kind](**options)
    except TypeError as e:
        raise ConfigError(f"bad [engine] option for kind {kind!r}: {e}", column="engine", fix="see docs/config.md"
                          ) from None
