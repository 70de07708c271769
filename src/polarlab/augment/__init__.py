"""Data augmentation by transformation functions (Snorkel's ``@transformation_function()``).

A transformation function ``tf(x) -> x' | None`` returns a changed copy of an example that keeps its label
(a synonym swapped in, a word dropped), or None when it does not apply. A *policy* decides which sequences of
functions to apply to each example; polarlab uses Snorkel's policies unchanged (``RandomPolicy``,
``MeanFieldPolicy``, ``ApplyAllPolicy``, ...)::

    from polarlab.augment import transformation_function, augment, MeanFieldPolicy

    @transformation_function()
    def drop_first_word(x):
        words = x.text.split()
        if len(words) < 3:
            return None
        x.text = " ".join(words[1:])
        return x

    policy = MeanFieldPolicy(1, sequence_length=1, n_per_original=2, keep_original=True)
    bigger = augment(train, [drop_first_word], policy, seed=0)   # augmented_from / transforms columns

Snorkel ``TransformationFunction`` objects are accepted unchanged (they get pandas rows, as with Snorkel's
``PandasTFApplier``). Every augmented row keeps its label and says where it came from.
"""
from snorkel.augmentation import ApplyAllPolicy, ApplyEachPolicy, ApplyOnePolicy, MeanFieldPolicy, RandomPolicy

from .apply import augment
from .function import TransformationFunction, transformation_function
from .load import load_transformation_functions

__all__ = ["ApplyAllPolicy", "ApplyEachPolicy", "ApplyOnePolicy", "MeanFieldPolicy", "RandomPolicy",
           "TransformationFunction", "augment", "load_transformation_functions", "transformation_function"]
