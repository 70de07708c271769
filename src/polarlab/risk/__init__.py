"""POLAR risk scores (1 - h(x)[answer]), their calibration, plots and baselines."""
from .baselines import (baseline_risks, dawid_skene_risk, llm_distilled_risk, llm_probability_risk,
                        majority_vote_risk, snorkel_risk)
from .calibration import (CalibrationReport, auroc, brier, calibration_report, consistency_floor, ece,
                          equal_count_bins, r2_binned)
from .plots import reliability_diagram, risk_error_scatter
from .score import risk_score, source_risk

__all__ = [
    "risk_score", "source_risk",
    "ece", "r2_binned", "brier", "auroc", "equal_count_bins", "CalibrationReport", "calibration_report",
    "consistency_floor",
    "reliability_diagram", "risk_error_scatter",
    "llm_probability_risk", "majority_vote_risk", "snorkel_risk", "dawid_skene_risk",
    "llm_distilled_risk", "baseline_risks",
]
