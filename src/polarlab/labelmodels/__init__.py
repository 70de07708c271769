"""Stage 4: label models behind one protocol — majority vote, Snorkel, Dawid–Skene. A new one subclasses
``LabelModelBase`` (``predict`` and ``score`` from its ``fit`` and ``predict_proba``) and is registered with
``registry.register_label_model``."""
from .base import LabelModel, LabelModelBase, predict
from .dawid_skene import DawidSkene
from .majority import MajorityVote
from .registry import LABEL_MODELS, make_label_model
from .snorkel_model import SnorkelLabelModel
from .two_stage import TwoStage

__all__ = ["LABEL_MODELS", "DawidSkene", "LabelModel", "LabelModelBase", "MajorityVote", "SnorkelLabelModel",
           "TwoStage", "make_label_model", "predict"]
