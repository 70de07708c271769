"""Abbreviations defined in a document ("Wilson disease (WD)"), after Schwartz & Hearst (2003).

A short form in parentheses is matched backwards, character by character, against the words before
it; the first character of the short form must start a word of the long form. Name-based linkers
cannot link "WD"; linked as "Wilson disease" they can (the standard preprocessing of NCBI-disease
linkers, e.g. Ab3P in BioSyn/SapBERT).
"""
from __future__ import annotations

import re

_PAREN = re.compile(r"\(([^()]{1,12})\)")


def _long_form(short: str, before: str) -> str | None:
    s, l_ = len(short) - 1, len(before) - 1
    while s >= 0:
        c = short[s].lower()
        if not c.isalnum():
            s -= 1
            continue
        while l_ >= 0 and (before[l_].lower() != c or (s == 0 and l_ > 0 and before[l_ - 1].isalnum())):
            l_ -= 1
        if l_ < 0:
            return None
        l_ -= 1
        s -= 1
    start = before.rfind(" ", 0, l_ + 1) + 1
    return before[start:].strip()


def find_abbreviations(text: str) -> dict[str, str]:
    """short form -> long form for every ``long form (SF)`` in ``text`` (first definition wins)."""
    out: dict[str, str] = {}
    for m in _PAREN.finditer(text):
        short = m.group(1).strip()
        if not (1 < len(short) <= 10 and short[0].isalnum() and any(c.isalpha() for c in short)
                and len(short.split()) <= 2):
            continue
        words = text[:m.start()].split()
        window = words[-min(len(short) + 5, 2 * len(short)):]
        before = " ".join(window)
        for sep in (".", ";", ":"):             # stay within the clause
            if sep + " " in before:
                before = before[before.rindex(sep + " ") + 2:]
        lf = _long_form(short, before)
        if lf and len(lf) > len(short) and short not in out and not lf.lower().startswith(short.lower() + " "):
            out[short] = lf
    return out
