"""The project file as typed models (pydantic), parsed once and validated in one place.

``validate_tables(raw, file)`` checks every table of a parsed ``polarlab.toml`` and returns a
:class:`ProjectConfig`; the first problem is raised as one :class:`polarlab.errors.ConfigError` naming the
file, the key path (``labelmodel.methods``, ``sources[2].keywords``) and the fix ("did you mean 'methods'?").
The schema is documented in ``docs/config.md``, generated from the models by ``python -m polarlab.config.docs``.
"""
from .base import Section, config_error, suggest, validate
from .models import (SECTIONS, CorrectSection, DataSection, HarmonizerSection, LabelModelSection, OutputSection,
                     ProjectConfig, ProjectSection, TaskSection, TransformerSection)
from .validate import validate_tables

__all__ = ["CorrectSection", "DataSection", "HarmonizerSection", "LabelModelSection", "OutputSection",
           "ProjectConfig", "ProjectSection", "SECTIONS", "Section", "TaskSection", "TransformerSection",
           "config_error", "suggest", "validate", "validate_tables"]
