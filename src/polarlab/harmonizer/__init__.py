"""POLAR harmonizer: a model h(x) fitted to all supervision sources at once (arXiv 2306.16564)."""
from .models import MLP, LogisticRegression, build_model
from .polar import EpochRecord, PolarHarmonizer
from .reweight import (agreement_covariance, loss_gradients, max_eigen_weights, min_var_weights,
                       residual_moments, source_weights)
from .tune import TuningRow, heldout_loss, tune_source_weight
from .scalarize import (SCALARIZATIONS, chebyshev, class_aggregate, linear, scalarize, scalarize_by_class,
                        source_losses, square, two_norm)

__all__ = [
    "PolarHarmonizer", "EpochRecord", "LogisticRegression", "MLP", "build_model",
    "scalarize", "source_losses", "class_aggregate", "scalarize_by_class", "linear", "square", "two_norm", "chebyshev", "SCALARIZATIONS",
    "loss_gradients", "agreement_covariance", "residual_moments", "max_eigen_weights", "min_var_weights", "source_weights",
    "tune_source_weight", "heldout_loss", "TuningRow",
]
