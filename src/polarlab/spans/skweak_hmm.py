"""skweak's HMM (Lison et al. 2020/2021, ``skweak`` on PyPI) on the same span sources, for
comparison: same tokens (a spaCy ``Doc`` built from polarlab's tokens with ``spacy.blank("en")``
vocabulary, no model download), same proposals, output mapped back to characters.

skweak's HMM is known to crash on documents where no labelling function fires
(NorskRegnesentral/skweak#40, #43); with skweak 0.3.3 here, ``HMM.fit`` on documents where no
function fires raises ``RuntimeError: No document found with annotations`` (applying a fitted
HMM to such a document in a mixed corpus did not crash). This adapter fits and applies it only
to documents with at least one proposal; every other document gets no spans (what any model would output there),
and ``info["skipped_docs"]`` counts them. A document on which the HMM still raises gets no
spans and is counted in ``info["failed_docs"]``.
"""
from __future__ import annotations

import logging
import warnings

from .tokenize import token_range
from .types import Span
from .votes import SpanVotes

log = logging.getLogger(__name__)


def skweak_hmm_spans(votes: SpanVotes, n_iter: int = 4) -> tuple[list[list[Span]], dict]:
    """skweak HMM spans per document, and info {skipped_docs, failed_docs, fit_docs}."""
    try:
        import spacy
        from skweak.aggregation import HMM
        from spacy.tokens import Doc
        from spacy.tokens import Span as SpacySpan
    except ImportError as e:
        from ..errors import ConfigError
        raise ConfigError(f"the skweak comparison needs skweak ({e})", column="skweak",
                          fix='pip install skweak (it is in polarlab\'s "test" extra)') from None

    nlp = spacy.blank("en")
    sdocs, idx = [], []
    for i, d in enumerate(votes.docs):
        if not any(votes.proposals[i]):
            continue                        # no function fired: skweak's HMM would crash here
        offs = votes.offsets[i]
        words = [d.text[a:b] for a, b in offs]
        spaces = [bool(offs[t + 1, 0] > offs[t, 1]) for t in range(len(offs) - 1)] + [False]
        sd = Doc(nlp.vocab, words=words, spaces=spaces)
        for j, name in enumerate(votes.sources):
            out = []
            for s in votes.proposals[i][j]:
                r = token_range(offs, s.start, s.end)
                if r is not None:
                    out.append(SpacySpan(sd, r[0], r[1], label=s.label))
            sd.spans[name] = out
        sdocs.append(sd)
        idx.append(i)
    result: list[list[Span]] = [[] for _ in votes.docs]
    info = {"fit_docs": len(sdocs), "skipped_docs": len(votes.docs) - len(sdocs), "failed_docs": 0}
    if not sdocs:
        return result, info
    hmm = HMM("hmm", list(votes.types))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        hmm.fit(sdocs, n_iter=n_iter)
        for i, sd in zip(idx, sdocs):
            try:
                sd = hmm(sd)
            except Exception as e:  # noqa: BLE001 - skweak's own failures, counted and reported
                log.warning("skweak HMM failed on document %s: %s", votes.docs[i].id, e)
                info["failed_docs"] += 1
                continue
            offs = votes.offsets[i]
            result[i] = sorted(Span(int(offs[s.start, 0]), int(offs[s.end - 1, 1]), s.label_, "skweak_hmm")
                               for s in sd.spans["hmm"])
    return result, info
