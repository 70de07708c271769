"""``@slicing_function()``: a Python predicate over an :class:`~polarlab.data.Example`."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from ..data.dataset import Example


@dataclass
class SlicingFunction:
    """A predicate ``f(x) -> bool`` naming a slice of the data.

    Attributes:
        name: unique slice name.
        f: the predicate; ``x.text``, ``x.entity1``, ``x.<metadata column>`` are available.
        pre: preprocessors ``p(x) -> x`` applied in order before ``f`` (e.g. one adding ``x.polarity``).
        resources: extra keyword arguments passed to ``f``.
    """

    name: str
    f: Callable[..., Any]
    pre: list[Callable[[Example], Example]] = field(default_factory=list)
    resources: dict[str, Any] = field(default_factory=dict)

    def __call__(self, x: Example) -> bool:
        for p in self.pre:
            x = p(x)
        return bool(self.f(x, **self.resources))


def slicing_function(name: str | None = None, pre: list[Callable[[Example], Example]] | None = None,
                     resources: dict[str, Any] | None = None) -> Callable[[Callable[..., Any]], SlicingFunction]:
    """Decorator turning ``f(x) -> bool`` into a :class:`SlicingFunction` named after ``f``.

    Used without parentheses (``@slicing_function``) it raises a ``TypeError`` that says so, as Snorkel does.

    Example::

        @slicing_function()
        def short_comment(x):
            return len(x.text.split()) < 5
    """
    if callable(name):
        raise TypeError("slicing_function is a decorator factory: write @slicing_function(), with parentheses")

    def wrap(f: Callable[..., Any]) -> SlicingFunction:
        return SlicingFunction(name=name or f.__name__, f=f, pre=list(pre or []), resources=dict(resources or {}))

    return wrap


def is_snorkel_sf(obj: Any) -> bool:
    """True for a ``snorkel.slicing.SlicingFunction`` (it is applied to pandas rows)."""
    from snorkel.slicing import SlicingFunction as SnorkelSF

    return isinstance(obj, SnorkelSF)
