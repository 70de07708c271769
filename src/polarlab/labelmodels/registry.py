"""Label models by name, for project files and the CLI.

``LABEL_MODELS`` is a plain dict name -> factory; a factory takes ``n_classes`` plus keyword
settings and returns a ``LabelModel``. Registering another model is one line::

    LABEL_MODELS["polar"] = PolarHarmonizer
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
    return factory(n_classes, **kw)


def register_label_model(name: str, factory: LabelModelFactory) -> None:
    """Make ``[labelmodel] methods = [name]`` available (a plugin's model; replaces an earlier ``name``)."""
    LABEL_MODELS[str(name).strip().lower()] = factory
