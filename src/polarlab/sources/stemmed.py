"""Keyword rules matched on stemmed tokens, as DataSculpt's LLM-written keyword LFs are.

DataSculpt (Guan et al., arXiv 2311.00739; ``data_utils.preprocess_text`` and ``lf_family.KeywordLF``)
lower-cases a text, splits it into words with NLTK's Treebank-style tokenizer (``can't`` -> ``ca``, ``n't``),
keeps the tokens made of word characters only, and Porter-stems each; a keyword LF holds a phrase in that same
processed form (``subscrib``, ``ca speak``, ``check out``) and fires when the phrase is one of the text's token
n-grams. :func:`stem_text` is that preprocessing (sentences split by NLTK's untrained Punkt, which needs no
downloaded data, where DataSculpt calls ``nltk.word_tokenize`` with the trained one) and
:class:`StemmedKeywordSource` that match.
"""
from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field

import numpy as np

from ..data.dataset import Dataset
from ..errors import ConfigError
from ..task import Task
from .base import ABSTAIN, SourceOutput

WORD = re.compile(r"^\w+$")


class Stemmer:
    """DataSculpt's text preprocessing (lower-case, tokenize, word tokens only, Porter stem), with a small cache of
    whole processed columns so that many sources over the same rows process them once: by content (a hash of the
    texts), and, so that the texts are read and hashed once and not once per source, by the very column array a
    dataset hands out (:meth:`polarlab.data.Dataset.arrow` builds it once; Arrow arrays do not change).

    Args:
        keep: how many processed columns to keep (least recently used dropped first).
    """

    def __init__(self, keep: int = 4) -> None:
        from nltk.stem import PorterStemmer
        from nltk.tokenize import NLTKWordTokenizer
        from nltk.tokenize.punkt import PunktSentenceTokenizer

        self._stem = PorterStemmer().stem
        self._words = NLTKWordTokenizer().tokenize
        self._sentences = PunktSentenceTokenizer().tokenize
        self._keep = keep
        self._columns: OrderedDict[str, object] = OrderedDict()
        self._arrays: list[tuple[object, str]] = []      # (a column array as read, its key), newest last
        self._tokens: dict[str, str] = {}

    def tokens(self, text: str) -> list[str]:
        """The processed tokens of ``text`` (stemmed, lower-case, word characters only)."""
        out = []
        for sentence in self._sentences(text.replace("\ufeff", "").lower()):
            for tok in self._words(sentence):
                if WORD.match(tok):
                    stem = self._tokens.get(tok)
                    if stem is None:
                        stem = self._tokens[tok] = self._stem(tok)
                    out.append(stem)
        return out

    def text(self, text: str) -> str:
        """``text`` processed: its tokens joined by single spaces."""
        return " ".join(self.tokens(text))

    def column(self, data: Dataset, column: str = "text"):
        """The processed ``column`` as a pyarrow array of ``" tok tok ... "`` (padded with one space each side)."""
        import pyarrow as pa

        raw = data.without_gold().arrow(column)
        key = self._key(raw, column)
        if key in self._columns:
            self._columns.move_to_end(key)
            return self._columns[key]
        done = pa.array([f" {self.text(t or '')} " for t in raw.to_pylist()], type=pa.large_string())
        self._columns[key] = done
        while len(self._columns) > self._keep:
            self._columns.popitem(last=False)
        return done

    def _key(self, raw, column: str) -> str:
        """The cache key of a column array: the one found for this very array before, else the hash of its texts."""
        for i, (seen, key) in enumerate(self._arrays):
            if seen is raw:
                self._arrays = [*self._arrays[:i], *self._arrays[i + 1:], (seen, key)]     # most recent last
                return key
        texts = "\x00".join(t or "" for t in raw.to_pylist())
        key = column + ":" + hashlib.sha1(texts.encode("utf-8", "replace")).hexdigest()
        self._arrays = [*self._arrays, (raw, key)][-self._keep:]
        return key


@dataclass
class StemmedKeywordSource:
    """Votes ``label`` where any keyword phrase occurs among the text's stemmed tokens, abstains elsewhere.

    Attributes:
        name: unique source name.
        keywords: phrases of processed tokens separated by spaces (``"subscrib"``, ``"check out"``); with
            ``stem_keywords`` plain words, processed here like the text.
        label: the class voted on a match (index or name).
        column: the dataset column to search (default ``text``).
        stem_keywords: process the keywords like the text (default False: they are already processed, as in a
            DataSculpt output file; Porter stemming is not idempotent, ``pleas`` -> ``plea``).
        stemmer: the shared preprocessing and its cache (sources read from one file share one).
        explain: optional sentence for reports and correction prompts.
    """

    name: str
    keywords: list[str]
    label: int | str
    column: str = "text"
    stem_keywords: bool = False
    stemmer: Stemmer = field(default_factory=Stemmer, repr=False, compare=False)
    explain: str | None = None
    phrases: list[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.keywords, str):
            self.keywords = [self.keywords]
        words = [self.stemmer.text(k) if self.stem_keywords else " ".join(k.lower().split()) for k in self.keywords]
        self.phrases = [w for w in words if w]
        if not self.phrases:
            raise ConfigError("a stemmed keyword source needs at least one keyword with a word in it",
                              column=self.name, fix="give keywords such as [\"subscrib\", \"check out\"]")

    def apply(self, data: Dataset, task: Task) -> SourceOutput:
        import pyarrow.compute as pc

        label = task.label_index(self.label, column=self.name)
        processed = self.stemmer.column(data, self.column)
        hit = np.zeros(len(data), dtype=bool)
        for phrase in self.phrases:
            hit |= pc.match_substring(processed, f" {phrase} ").to_numpy(zero_copy_only=False).astype(bool)
        return SourceOutput(votes=np.where(hit, label, ABSTAIN).astype(np.int64))

    def describe(self, task: Task, label: int) -> str:
        words = ", ".join(f"'{k}'" for k in self.keywords[:8])
        return self.explain or (f"Rule '{self.name}': the text contains a word starting like {words}, "
                                f"which suggests {task.labels[label]}.")
