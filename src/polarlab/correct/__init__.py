"""Error correction: re-ask the riskiest LLM answers with dynamic prompts, within a budget.

Entry point: :func:`correct_answers` (one strategy on one set of rows → :class:`CorrectionResult`)::

    pool = DemoPool(train, X_train, h.predict_proba(None, X_train), L_train.column("llm"))
    res = correct_answers(test, task, L_test, h.predict_proba(None, X_test), strategy="evidence",
                          llm=llm, sources=sources, X=X_test, pool=pool,
                          config=CorrectionConfig(budget=0.2))
    res.labels_after            # (n,) the corrected LLM column;  res.matrix: the label matrix with it
    res.report(test.gold)       # slice error, accuracy, calls, risk distribution before/after
    write_audit(res.audit, "audit.csv", task)

- Strategies and their syntax (``verify``, ``evidence``, ``fewshot``, ``retrieval``, ``harmonizer``;
  ``+`` combines into one prompt, ``,`` lists strategies run separately): :mod:`.strategy`.
- Budget: the number of *re-asks* (one request per selected row), counted whether the answer comes
  from the backend or the cache, so a re-run selects and answers exactly the same rows at no cost.
  Content-free calibration prompts and backend calls are reported (``prompts``, ``backend_calls``),
  not budgeted. ``harmonizer`` re-asks nothing (0 calls). See :class:`CorrectionConfig`.
- Update: ``rescore`` (default; h(x) depends only on the features, so the new risk is
  ``1 - h(x)[new answer]``) or ``refit`` (h fitted again with the corrected LLM votes, :class:`FitData`).
"""
from .audit import AUDIT_COLUMNS, AuditRecord, audit_frame, write_audit
from .config import CorrectionConfig, parse_budget
from .evidence import answer_word_task, rule_evidence
from .fewshot import auto_few_shot, auto_few_shot_rows
from .pool import DemoPool
from .report import RISK_BINS, CorrectionReport, risk_histogram, summarize
from .requests import build_requests
from .retrieval import nearest_confident
from .select import resolve_budget, select_rows
from .stage import CorrectionResult, FitData, correct_answers
from .components import CORRECTION_COMPONENTS, CorrectionComponent, register_correction_component
from .strategy import Strategy, parse_strategies

__all__ = [
    "correct_answers", "CorrectionResult", "FitData", "CorrectionConfig", "parse_budget",
    "Strategy", "parse_strategies", "CORRECTION_COMPONENTS", "CorrectionComponent", "register_correction_component",
    "DemoPool",
    "select_rows", "resolve_budget", "build_requests", "rule_evidence", "answer_word_task",
    "auto_few_shot", "auto_few_shot_rows", "nearest_confident",
    "AuditRecord", "AUDIT_COLUMNS", "audit_frame", "write_audit",
    "CorrectionReport", "summarize", "risk_histogram", "RISK_BINS",
]
