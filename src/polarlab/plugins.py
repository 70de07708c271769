"""Plugins: packages that add source types, LLM backends, feature extractors, label models, correction
components, task kinds or stages.

A plugin lists a function under the ``polarlab.plugins`` entry-point group (``pyproject.toml``)::

    [project.entry-points."polarlab.plugins"]
    mine = "my_package.polarlab_plugin:register"

and that function calls the ``register_*`` functions: :func:`polarlab.sources.registry.register_source_type`,
:func:`polarlab.llm.backends.register_llm_backend`, :func:`polarlab.features.registry.register_features`, :func:`polarlab.labelmodels.registry.register_label_model`,
:func:`polarlab.tasks.register_task_kind`, :func:`polarlab.stages.register_stage`. They are loaded once, before a
project file is validated.

A label model subclasses :class:`polarlab.labelmodels.LabelModelBase` and writes ``fit`` and ``predict_proba``; the
base gives it ``predict`` and ``score`` (scikit-learn's mixin style). ``register_label_model`` refuses a class
without the four methods, naming the class and what to add, so the plugin fails to load rather than a run later.
"""
from __future__ import annotations

import logging
from importlib.metadata import entry_points

from .errors import ConfigError

log = logging.getLogger(__name__)
_loaded = False


def load_plugins() -> list[str]:
    """Call every ``polarlab.plugins`` entry point once; returns their names."""
    global _loaded
    if _loaded:
        return []
    _loaded = True
    names = []
    for ep in entry_points(group="polarlab.plugins"):
        try:
            ep.load()()
        except Exception as e:  # noqa: BLE001 - a broken plugin is named, not a traceback
            raise ConfigError(f"plugin {ep.name!r} ({ep.value}) failed to load: {type(e).__name__}: {e}",
                              fix="fix or uninstall the plugin") from e
        names.append(ep.name)
    return names
