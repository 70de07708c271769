"""Human review loop: a risk-ordered queue, self-paced acceptance rounds, a gold-free accuracy
estimate with a stopping rule, and a review web app (:mod:`polarlab.review.app`)."""
from .annotator import SimulatedAnnotator
from .estimate import AccuracyEstimate, StoppingRule, estimate_accuracy, risk_strata
from .queue import label_risk, review_order, source_disagreement
from .rounds import Batch, RoundRecord, SelfPacedReview
from .schedule import SCHEDULES, ThresholdSchedule

__all__ = ["SimulatedAnnotator", "AccuracyEstimate", "StoppingRule", "estimate_accuracy", "risk_strata",
           "label_risk", "review_order", "source_disagreement", "Batch", "RoundRecord", "SelfPacedReview",
           "SCHEDULES", "ThresholdSchedule"]
