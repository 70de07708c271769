"""Stage 1: supervision sources — anything that votes a label or abstains on each example."""
from .base import ABSTAIN, Source, SourceFailure, SourceOutput
from .dictionary import DictionarySource, read_terms
from .lf import LabelingFunction, labeling_function
from .rules import KeywordSource, RegexSource
from .snorkel_adapter import SnorkelSource, from_snorkel
from .votes import VoteColumn, WeakLabelColumn, weak_label_sources

__all__ = ["ABSTAIN", "DictionarySource", "KeywordSource", "LabelingFunction", "RegexSource",
           "SnorkelSource", "Source", "SourceFailure", "SourceOutput", "VoteColumn", "WeakLabelColumn", "from_snorkel",
           "labeling_function", "read_terms", "weak_label_sources"]
