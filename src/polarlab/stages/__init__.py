"""Stages: one protocol (:class:`Stage`), one registry (:data:`STAGES`), one runner (:func:`run_stages`).

``polarlab run`` is the list :data:`PIPELINE` over a :class:`RunContext`: ``data`` → ``sources`` →
``label_models`` → ``features`` → ``harmonizer`` → ``correct`` → ``risk``; then the outputs are written.
Each stage reads one section of the project file (``[data]``, ``[[sources]]``, ``[labelmodel]``,
``[harmonizer]``, ``[correct]``) and is skipped when that section and its inputs are unchanged
(see :mod:`polarlab.stages.runner`).
"""
from . import correct, data, features, harmonizer, label_models, risk, sources  # noqa: F401  (registration)
from .base import STAGES, RunContext, Stage, StageReport, register_stage
from .runner import run_stages

PIPELINE = ("data", "sources", "label_models", "features", "harmonizer", "correct", "risk")

__all__ = ["PIPELINE", "STAGES", "RunContext", "Stage", "StageReport", "register_stage", "run_stages"]
