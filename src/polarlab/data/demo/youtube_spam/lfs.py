"""Python labeling functions for the demo (after the Snorkel spam tutorial)."""
import re

from snorkel.labeling import labeling_function as snorkel_labeling_function

from polarlab import ABSTAIN, labeling_function

HAM, SPAM = 0, 1


@labeling_function()
def short_comment(x):
    """Ham comments are often short, such as 'cool video!'."""
    return HAM if len(x.text.split()) < 5 else ABSTAIN


@labeling_function()
def many_exclamations(x):
    """Comments shouting with several exclamation marks in a row are often spam."""
    return SPAM if "!!!" in x.text else ABSTAIN


@labeling_function()
def mentions_views_or_year(x):
    """Comments about view counts or the year ('who is watching in 2015') are ham."""
    return HAM if re.search(r"\b(views|billion|20(1\d|2\d))\b", x.text, re.I) else ABSTAIN


@snorkel_labeling_function()
def snorkel_song(x):
    """Ham comments talk about the song itself (a Snorkel LF used unchanged)."""
    return HAM if re.search(r"\bsong\b", x.text, flags=re.I) else ABSTAIN
