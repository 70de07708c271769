"""polarlab: weak supervision with rules, dictionaries and LLMs, harmonized by Pareto optimal learning.

The Python API follows the pipeline::

    from polarlab import Task, load_csv, KeywordSource, labeling_function, apply_sources, make_label_model
"""
from .data import Dataset, Example, from_hf, from_pandas, load_csv, load_jsonl, load_parquet, load_table, load_wrench
from .errors import ConfigError, DataError, InputError, PolarlabError, SourceError
from .labelmodels import DawidSkene, MajorityVote, SnorkelLabelModel, make_label_model
from .matrix import LabelMatrix, apply_sources
from .matrix.analysis import analyze
from .metrics import classification_metrics
from .project import Project, load_project
from .sources import (ABSTAIN, DictionarySource, KeywordSource, LabelingFunction, RegexSource, SnorkelSource,
                      VoteColumn, from_snorkel, labeling_function)
from .task import Task

__version__ = "0.1.0"

__all__ = [
    "ABSTAIN", "ConfigError", "DataError", "Dataset", "DawidSkene", "DictionarySource", "Example", "InputError",
    "KeywordSource", "LabelMatrix", "LabelingFunction", "MajorityVote", "PolarlabError", "Project", "RegexSource",
    "SnorkelLabelModel", "SnorkelSource", "SourceError", "Task", "VoteColumn", "analyze", "apply_sources",
    "classification_metrics", "from_hf", "from_pandas", "from_snorkel", "labeling_function", "load_csv",
    "load_jsonl", "load_parquet", "load_project", "load_table", "load_wrench", "make_label_model",
]
