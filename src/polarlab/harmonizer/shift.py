"""Do the votes of the rows being labelled behave like the fit rows' votes? A gold-free check.

POLAR's final distribution reads each row's own votes, with the sources' reliabilities learnt on the fit rows.
That is only right when the sources behave on the new rows as they did there. The check compares how often a
vote agrees with the second-stage classifier's label (features only, trained on the combined labels): on the
fit rows (the classifier cross-fitted, so it never saw the row) and on the new rows. When the agreement falls by
at least :data:`MIN_DROP` and the fall is significant (two-proportion z ≥ :data:`MIN_Z`), the votes of those
rows are not the votes the model was fitted on, and the harmonizer labels them from the features alone with its
own two-stage classifier (:class:`polarlab.harmonizer.stage2.FeatureClassifier` trained on the combined
distributions of the covered fit rows as soft labels), and warns. The harmonizer makes the check per pool of
sources (:meth:`PolarHarmonizer._shift_pools`: the tuned sources, i.e. the LLM, and the others), so that a
source voting on every row cannot hide a shift of the others.

Measured (docs/results/label_quality.md): on WRENCH sms the stored votes of the valid and test splits do not
match the dataset's own documented rules (re-applying the 73 regular expressions of its readme reproduces every
train row's votes but only 41 % of the valid/test rows'; their spam rules are right on 2 % / 19 % of the rows they
fire on there, 98 % on train): agreement 0.98 on the fit rows, 0.81 on test. On youtube, trec, chemprot and
census the agreement on test is within 0.03 of the fit rows' (it rises), so the check never fires there.
The thresholds were set from these gold-free agreements, not from any score.

The check reads the classifier's labels as the reference, so it says nothing when the classifier does not tell the
rows apart: when it gives every row checked the same label (e.g. TF-IDF features of words the fit rows never had:
every row a zero vector, every label the intercept's), a fall of the agreement measures the class balance of the
votes, not their behaviour, and no shift is declared (``one_label``; the harmonizer warns and reads the votes).
Found on a 25-row spam project with TF-IDF features: the classifier called all 25 test rows spam (23 are ham),
the votes agreed with it on 0.04 of them, and labelling from the features alone gave 0.08 test accuracy against
majority vote's 0.92.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

MIN_DROP = 0.10
"""Smallest fall of the vote/classifier agreement (fit rows → new rows) that counts as a shift."""

MIN_Z = 4.0
"""Smallest two-proportion z statistic of that fall that counts as a shift (few votes never trigger it)."""


@dataclass(frozen=True)
class VoteShift:
    """Agreement of the votes with the features-only classifier, on the fit rows and on the rows checked.

    Attributes:
        fit_agreement: share of the fit rows' votes equal to the cross-fitted classifier's label.
        fit_votes: how many votes that share is over.
        agreement: the same share on the rows checked.
        votes: how many votes there.
        z: two-proportion z statistic of ``fit_agreement - agreement`` (0 when either side has no vote).
        shifted: ``fit_agreement - agreement >= MIN_DROP`` and ``z >= MIN_Z``, and ``one_label`` False.
        one_label: the classifier gave every row checked (two or more) the same label, so the check cannot judge
            the votes: never a shift.
    """

    fit_agreement: float
    fit_votes: int
    agreement: float
    votes: int
    z: float
    shifted: bool
    one_label: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def vote_agreement(L: np.ndarray, labels: np.ndarray) -> tuple[int, int]:
    """(votes equal to the row's label, votes), over every non-abstain cell of ``L`` (n, m); labels (n,)."""
    voted = L >= 0
    return int((voted & (L == labels[:, None])).sum()), int(voted.sum())


def compare(fit_hits: int, fit_votes: int, hits: int, votes: int, one_label: bool = False) -> VoteShift:
    """The :class:`VoteShift` of two agreement counts; ``one_label``: the classifier gave every row checked the same
    label (then never shifted)."""
    p_fit = fit_hits / fit_votes if fit_votes else float("nan")
    p_new = hits / votes if votes else float("nan")
    z = 0.0
    if fit_votes and votes:
        pooled = (fit_hits + hits) / (fit_votes + votes)
        se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / fit_votes + 1.0 / votes))
        z = float((p_fit - p_new) / se) if se > 0 else 0.0
    shifted = bool(fit_votes and votes and p_fit - p_new >= MIN_DROP and z >= MIN_Z and not one_label)
    return VoteShift(float(p_fit), int(fit_votes), float(p_new), int(votes), z, shifted, bool(one_label))
