"""Stage 1b: apply sources to a dataset and get the label matrix; analyse it."""
from .apply import apply_sources
from .label_matrix import ABSTAIN, LabelMatrix, SourceFailure

__all__ = ["ABSTAIN", "LabelMatrix", "SourceFailure", "apply_sources"]
