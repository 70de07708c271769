"""Slices: named subsets of the data (Snorkel's slicing functions), and per-slice quality.

A slicing function ``sf(x) -> bool`` says whether example ``x`` belongs to a slice (short comments, negative
sentiment, a rare entity type). polarlab reports coverage, label quality, risk calibration and end-model
metrics per slice, so a weak spot of the labels is seen before it reaches a model::

    from polarlab.slicing import slicing_function, apply_slices, slice_report

    @slicing_function()
    def short_comment(x):
        return len(x.text.split()) < 5

    S = apply_slices(data, [short_comment])              # SliceMatrix, S.S is (n, s) bool
    print(slice_report(S, gold=data.gold, preds=labels))  # one row per slice, "overall" first

Snorkel ``SlicingFunction`` objects (``@snorkel.slicing.slicing_function()``) are accepted unchanged: they get
each row as a pandas Series, exactly as Snorkel's ``PandasSFApplier`` gives it.
"""
from .apply import SliceMatrix, apply_slices
from .function import SlicingFunction, slicing_function
from .load import load_slicing_functions
from .report import slice_report

__all__ = ["SliceMatrix", "SlicingFunction", "apply_slices", "load_slicing_functions", "slice_report",
           "slicing_function"]
