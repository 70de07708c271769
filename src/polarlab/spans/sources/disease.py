"""Built-in span functions for disease mentions in biomedical text (written from general
knowledge of how diseases are named; nothing fitted to a corpus).

- :data:`disease_heads`: noun phrases ending in a disease head word ("Wilson disease",
  "autosomal recessive disorder", "colorectal cancer"), up to three modifier words to the left.
- :data:`disease_suffixes`: single words with a disease-forming suffix (-oma, -itis, -emia,
  -pathy, -trophy, -plasia, -uria, ...).
- :data:`disease_acronyms`: ``long form (ABBR)`` where the long form is named like a disease
  (head word or suffix) and the abbreviation's letters match the long form's initials; marks
  the long form and every later occurrence of the abbreviation in the document.
"""
from __future__ import annotations

import re

from ..tokenize import tokenize
from ..types import SpanDoc
from .rules import span_function

HEADS = ("disease", "diseases", "syndrome", "syndromes", "disorder", "disorders", "deficiency",
         "deficiencies", "cancer", "cancers", "tumor", "tumors", "tumour", "tumours", "carcinoma",
         "carcinomas", "dystrophy", "dystrophies", "anemia", "anaemia", "ataxia", "neoplasm",
         "neoplasms", "leukemia", "leukaemia", "lymphoma", "malformation", "malformations",
         "polyposis", "dysplasia", "palsy", "infection", "infections", "failure", "atrophy")
SUFFIX_RE = re.compile(r"^[A-Za-z][a-z]+(?:omas?|itis|emias?|aemias?|pathy|pathies|trophy|plasias?|"
                       r"urias?|penias?|algias?|ectasias?|blastomas?|osarcomas?|cytosis|plegias?)$")
SUFFIX_STOP = {"diploma", "stoma", "aroma", "coma", "soma", "chromosoma", "idiopathy"}
STOP = {"the", "a", "an", "of", "in", "on", "with", "and", "or", "to", "for", "by", "from", "as", "at",
        "is", "are", "was", "were", "be", "been", "that", "this", "these", "those", "which", "who",
        "patients", "patient", "cases", "case", "families", "family", "risk", "gene", "genes", "mutation",
        "mutations", "its", "their", "his", "her", "no", "not", "but", "all", "both", "most", "other",
        "has", "have", "had", "can", "may", "also", "than", "into", "between", "among", "within",
        "we", "it", "there", "here", "such", "some", "each", "one", "two", "three", "several",
        "causes", "cause", "caused", "causing", "associated", "called", "known", "like"}


def _words(text: str):
    return [(int(a), int(b), text[a:b]) for a, b in tokenize(text)]


def _extend_left(toks, i: int, max_words: int = 3) -> int:
    """Index of the first modifier token left of head token ``i`` (hyphenated words count as one)."""
    j, words = i, 0
    while j > 0 and words < max_words:
        w = toks[j - 1][2]
        if w == "-" and j >= 2 and toks[j - 1][0] == toks[j - 2][1] and toks[j - 1][1] == toks[j][0]:
            j -= 2                                   # "non-Indian": join across a tight hyphen
            continue
        if not (w[:1].isalnum()) or w.lower() in STOP or w.endswith("ing") or w.isdigit():
            break
        j -= 1
        words += 1
    return j


@span_function(label="Disease")
def disease_heads(doc: SpanDoc):
    """Noun phrases ending in a disease head word (disease, syndrome, cancer, deficiency, ...)."""
    toks = _words(doc.text)
    for i, (a, b, w) in enumerate(toks):
        if w.lower() in HEADS:
            j = _extend_left(toks, i)
            if j < i:                                 # a bare head word ("disease") is no mention
                yield toks[j][0], b


@span_function(label="Disease")
def disease_suffixes(doc: SpanDoc):
    """Words with a disease-forming suffix (-oma, -itis, -emia, -pathy, -trophy, -uria, ...)."""
    for a, b, w in _words(doc.text):
        if len(w) > 5 and w.lower() not in SUFFIX_STOP and SUFFIX_RE.match(w):
            yield a, b


_ABBR_RE = re.compile(r"\(([A-Z][A-Za-z0-9-]{0,8}[A-Z0-9])\)")


def _diseaselike(words: list[str]) -> bool:
    last = words[-1].lower()
    return last in HEADS or bool(SUFFIX_RE.match(words[-1]))


@span_function(label="Disease")
def disease_acronyms(doc: SpanDoc):
    """``long form (ABBR)`` with a disease-like long form: the long form and every ABBR."""
    text = doc.text
    toks = _words(text)
    starts = {a: i for i, (a, _, _) in enumerate(toks)}
    for m in _ABBR_RE.finditer(text):
        abbr = m.group(1)
        letters = [c.lower() for c in abbr if c.isalpha()]
        i = starts.get(m.start())                     # the "(" token
        if i is None or i == 0 or len(letters) < 2:
            continue
        # walk left over up to len(letters)+2 words looking for a run whose initials spell ABBR
        words, j = [], i
        while j > 0 and len(words) < len(letters) + 2:
            j -= 1
            if toks[j][2][:1].isalnum():
                words.insert(0, j)
            elif toks[j][2] != "-":
                break
            initials = [toks[k][2][0].lower() for k in words]
            if initials and initials[0] == letters[0] and set(letters) <= set("".join(
                    toks[k][2].lower() for k in words)) and _diseaselike([toks[k][2] for k in words]):
                yield toks[words[0]][0], toks[i - 1][1]
                for mm in re.finditer(rf"(?<![\w-]){re.escape(abbr)}(?![\w-])", text):
                    yield mm.start(), mm.end()
                break
