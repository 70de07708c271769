"""Stage 1: supervision sources — anything that votes a label or abstains on each example."""
from .base import ABSTAIN, Source, SourceFailure, SourceOutput
from .dictionary import DictionarySource, read_terms
from .lf import LabelingFunction, labeling_function
from .rulefile import MATCHERS, RuleFile, read_rule_file
from .rules import KeywordSource, RegexSource
from .stemmed import StemmedKeywordSource, Stemmer
from .snorkel_adapter import SnorkelSource, from_snorkel
from .votes import VoteColumn, WeakLabelColumn, weak_label_sources

__all__ = ["ABSTAIN", "DictionarySource", "KeywordSource", "LabelingFunction", "MATCHERS", "RegexSource", "RuleFile",
           "SnorkelSource", "Source", "SourceFailure", "SourceOutput", "StemmedKeywordSource", "Stemmer", "VoteColumn",
           "WeakLabelColumn", "from_snorkel", "labeling_function", "read_rule_file", "read_terms",
           "weak_label_sources"]
