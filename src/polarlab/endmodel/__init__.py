"""End models: classifiers trained on the final labels (soft labels, 1 - risk weights, reviewed
rows as hard labels), with optional self-training, saved with their task and label names.

    model = make_end_model("logreg", task)            # or "transformer" (fine-tuned MiniLM)
    model.fit(train, Targets.from_risk(proba, risk, hard))
    model.save("model/"); load_end_model("model/").predict_proba(texts)
"""
from .base import END_MODELS, EndModel, make_end_model
from .io import load_end_model, save_end_model
from .predict import predict_file, predict_frame, predict_proba_batched
from .self_training import SelfTraining, SelfTrainingResult
from .targets import Targets

__all__ = ["END_MODELS", "EndModel", "SelfTraining", "SelfTrainingResult", "Targets", "load_end_model",
           "make_end_model", "predict_file", "predict_frame", "predict_proba_batched", "save_end_model"]
