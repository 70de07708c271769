"""polarlab: weak supervision with rules, dictionaries and LLMs, harmonized by Pareto optimal learning.

The Python API follows the pipeline::

    from polarlab import Task, load_csv, KeywordSource, labeling_function, apply_sources, make_label_model

Names are imported on first use, so ``import polarlab`` (and the CLI) start fast; torch, snorkel and
crowd-kit load only when a label model or the harmonizer is used.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # stage 0: data and task
    "Task": "task", "Dataset": "data", "Example": "data", "from_hf": "data", "from_pandas": "data",
    "load_csv": "data", "load_jsonl": "data", "load_parquet": "data", "load_table": "data", "load_wrench": "data",
    # errors
    "PolarlabError": "errors", "InputError": "errors", "DataError": "errors", "ConfigError": "errors",
    "SourceError": "errors",
    # stage 1: sources
    "ABSTAIN": "sources", "labeling_function": "sources", "LabelingFunction": "sources",
    "KeywordSource": "sources", "RegexSource": "sources", "DictionarySource": "sources", "VoteColumn": "sources",
    "SnorkelSource": "sources", "from_snorkel": "sources", "LLMSource": "llm", "PromptRequest": "llm",
    # stage 2: label matrix
    "LabelMatrix": "matrix", "apply_sources": "matrix", "analyze": "matrix.analysis",
    # stage 3: label models and the POLAR harmonizer
    "make_label_model": "labelmodels", "MajorityVote": "labelmodels", "SnorkelLabelModel": "labelmodels",
    "DawidSkene": "labelmodels", "PolarHarmonizer": "harmonizer", "make_features": "features",
    # stage 4-5: risk and correction
    "risk_score": "risk", "calibration_report": "risk", "correct_answers": "correct",
    # the whole job
    "classification_metrics": "metrics", "Project": "project", "load_project": "project", "run": "pipeline",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'polarlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(list(globals()) + __all__)


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from .correct import correct_answers
    from .data import Dataset, Example, from_hf, from_pandas, load_csv, load_jsonl, load_parquet, load_table, load_wrench
    from .errors import ConfigError, DataError, InputError, PolarlabError, SourceError
    from .features import make_features
    from .harmonizer import PolarHarmonizer
    from .labelmodels import DawidSkene, MajorityVote, SnorkelLabelModel, make_label_model
    from .llm import LLMSource, PromptRequest
    from .matrix import LabelMatrix, apply_sources
    from .matrix.analysis import analyze
    from .metrics import classification_metrics
    from .pipeline import run
    from .project import Project, load_project
    from .risk import calibration_report, risk_score
    from .sources import (ABSTAIN, DictionarySource, KeywordSource, LabelingFunction, RegexSource, SnorkelSource,
                          VoteColumn, from_snorkel, labeling_function)
    from .task import Task
