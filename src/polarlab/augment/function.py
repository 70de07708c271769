"""``@transformation_function()``: ``f(x) -> x' | None`` over an :class:`~polarlab.data.Example`."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable

from ..data.dataset import Example


@dataclass
class TransformationFunction:
    """A label-preserving change of an example.

    ``f`` gets a deep copy of the example (it may change it in place and return it) and returns the changed
    example, or None when it does not apply to this one.

    Attributes:
        name: unique name (recorded in the augmented rows' provenance).
        f: the function.
        pre: preprocessors ``p(x) -> x`` applied before ``f``.
        resources: extra keyword arguments passed to ``f``.
    """

    name: str
    f: Callable[..., Any]
    pre: list[Callable[[Example], Example]] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)

    def __call__(self, x: Example) -> Example | None:
        x = copy.deepcopy(x)
        for p in self.pre:
            x = p(x)
        return self.f(x, **self.resources)


def transformation_function(name: str | None = None, pre: list[Callable[[Example], Example]] | None = None,
                            resources: dict[str, Any] | None = None
                            ) -> Callable[[Callable[..., Any]], TransformationFunction]:
    """Decorator turning ``f(x) -> x' | None`` into a :class:`TransformationFunction` named after ``f``.

    Used without parentheses it raises a ``TypeError`` that says so.
    """
    if callable(name):
        raise TypeError("transformation_function is a decorator factory: write @transformation_function()")

    def wrap(f: Callable[..., Any]) -> TransformationFunction:
        return TransformationFunction(name=name or f.__name__, f=f, pre=list(pre or []),
                                      resources=dict(resources or {}))

    return wrap


def is_snorkel_tf(obj: Any) -> bool:
    """True for a ``snorkel.augmentation.TransformationFunction`` (applied to pandas rows)."""
    from snorkel.augmentation.tf import BaseTransformationFunction

    return isinstance(obj, BaseTransformationFunction)
