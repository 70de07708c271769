"""Values shared by every module (defined once)."""

#: The vote of a source that does not label an example (and the gold label of an example without one).
ABSTAIN = -1
