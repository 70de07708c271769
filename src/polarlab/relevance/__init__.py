"""LLM relevance labels for training retrievers (ARL2), harmonized by POLAR, with adaptive self-training.

Data in the BEIR layout (:mod:`.beir`); BM25 / MiniLM / fused candidates (:mod:`.candidates`); the LLM
judge (:mod:`.judge`) and cheap sources (:mod:`.sources`) on a pool of query–document pairs
(:mod:`.pool`); POLAR over them (:mod:`.harmonize`); bi-encoder fine-tuning (:mod:`.trainer`); the
ARL2 loop (:mod:`.selftrain`); nDCG / Recall (:mod:`.metrics`); the whole run (:func:`run_relevance`).
"""
from .beir import BeirData, load_beir
from .config import RelevanceConfig, from_project_tables, load_relevance_project, make_config
from .experiment import run_relevance
from .metrics import evaluate, ndcg_at_k, ndcg_per_query, paired_bootstrap, recall_at_k

__all__ = ["BeirData", "load_beir", "RelevanceConfig", "make_config", "from_project_tables", "load_relevance_project",
           "run_relevance",
           "evaluate", "ndcg_at_k", "ndcg_per_query", "paired_bootstrap", "recall_at_k"]
