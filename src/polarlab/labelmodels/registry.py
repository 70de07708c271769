"""Label models by name, for project files and the CLI.

``LABEL_MODELS`` is a plain dict name -> factory; a factory takes ``n_classes`` plus keyword
settings and returns a label model. Registering another model is one line::

    register_label_model("mine", MyModel)

A label model writes ``fit(L, X=None)`` and ``predict_proba(L, X=None)`` and subclasses
:class:`polarlab.labelmodels.base.LabelModelBase`, which gives it ``predict`` (the argmax, ties broken by its
``tie_break``) and ``score`` (Snorkel's metrics), as scikit-learn's ``ClassifierMixin`` gives an estimator its
``score``: one implementation for every model. A model without all four methods is refused with one error naming
its class and what to add, when it is registered (a class) and when it is built (any factory, also one put in
``LABEL_MODELS`` by hand), never half-way through a run.
"""
from __future__ import annotations

import inspect
from functools import partial
from typing import Any, Callable

from ..errors import ConfigError
from .base import LabelModel
from .dawid_skene import DawidSkene
from .majority import MajorityVote
from .snorkel_model import SnorkelLabelModel
from .two_stage import TwoStage

LabelModelFactory = Callable[..., LabelModel]

LABEL_MODELS: dict[str, LabelModelFactory] = {
    "mv": MajorityVote,
    "snorkel": SnorkelLabelModel,
    "dawid_skene": DawidSkene,
    # two-stage baselines: the label model's labels train a logistic regression on the features
    "mv+lr": partial(TwoStage, label_model="mv"),
    "snorkel+lr": partial(TwoStage, label_model="snorkel"),
    "dawid_skene+lr": partial(TwoStage, label_model="dawid_skene"),
}


#: The methods every label model has: its own ``fit`` and ``predict_proba``, and ``predict`` and ``score`` (from
#: :class:`LabelModelBase`).
REQUIRED = ("fit", "predict_proba", "predict", "score")


def _class_of(factory: Any) -> type | None:
    """The class a factory builds, when it says so (a class, or ``functools.partial`` of one); else None."""
    while isinstance(factory, partial):
        factory = factory.func
    return factory if isinstance(factory, type) else None


def check_label_model(model: Any, name: str) -> None:
    """Raise a ``ConfigError`` when ``model`` (a label model, or its class) lacks a method of :data:`REQUIRED`,
    naming the class, the methods it lacks and what to add."""
    cls = model if isinstance(model, type) else type(model)
    missing = [m for m in REQUIRED if not callable(getattr(model, m, None))]
    if not missing:
        return
    own = [m for m in ("fit", "predict_proba") if m in missing]
    fix = (f"write {' and '.join(own)}(L, X=None) in {cls.__name__}" if own else "")
    if set(missing) - set(own):
        fix += ("; then " if fix else "") + (
            f"subclass polarlab.labelmodels.LabelModelBase (class {cls.__name__}(LabelModelBase): ...), which adds "
            "predict (the argmax of predict_proba, ties broken by the model's tie_break) and score")
    raise ConfigError(f"label model {name!r} (class {cls.__module__}.{cls.__qualname__}) has no "
                      f"{', '.join(missing)}", column="labelmodel.methods", fix=fix)


def _settings(factory: LabelModelFactory) -> list[str] | None:
    """Keyword settings ``factory`` accepts besides ``n_classes``; None when it takes any."""
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [p.name for p in params if p.name != "n_classes"]


def make_label_model(name: str, n_classes: int, **kw: Any) -> LabelModel:
    """Build the label model registered as ``name`` (case-insensitive) for ``n_classes`` classes.

    Args:
        name: a key of ``LABEL_MODELS``, e.g. ``"mv"``, ``"snorkel"``, ``"dawid_skene"``.
        n_classes: k, number of classes.
        **kw: settings passed to the model's constructor (e.g. ``epochs=200`` for ``"snorkel"``).

    Raises:
        ConfigError: ``name`` is not registered (the message lists the valid names), or a
            setting is not one the model takes (the message lists those it takes).
    """
    key = str(name).strip().lower()
    if key not in LABEL_MODELS:
        valid = ", ".join(repr(n) for n in sorted(LABEL_MODELS))
        raise ConfigError(f"unknown label model {name!r}; valid names are {valid}",
                          column="label_model", fix=f"use one of {valid}")
    factory = LABEL_MODELS[key]
    accepted = _settings(factory)
    unknown = sorted(set(kw) - set(accepted)) if accepted is not None else []
    if unknown:
        from ..config.base import suggest

        guess = suggest(unknown[0], accepted)
        raise ConfigError(f"label model {key!r} has no setting(s) {unknown}", column=unknown[0],
                          fix=(f"did you mean {guess!r}? " if guess else "") + f"use only {accepted}")
    model = factory(n_classes, **kw)
    check_label_model(model, key)
    return model


def register_label_model(name: str, factory: LabelModelFactory) -> None:
    """Make ``[labelmodel] methods = [name]`` available (a plugin's model; replaces an earlier ``name``).

    Args:
        name: the method name in project files (case-insensitive).
        factory: ``factory(n_classes, **settings)`` -> a label model: usually its class, a subclass of
            :class:`LabelModelBase` that writes ``fit`` and ``predict_proba``.

    Raises:
        ConfigError: ``factory`` is a class (or a ``functools.partial`` of one) without ``fit``,
            ``predict_proba``, ``predict`` or ``score`` (:func:`check_label_model`: naming the class and what to
            add); any other factory's model is checked when :func:`make_label_model` builds it.
    """
    key = str(name).strip().lower()
    cls = _class_of(factory)
    if cls is not None:
        check_label_model(cls, key)
    LABEL_MODELS[key] = factory
