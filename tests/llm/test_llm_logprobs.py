"""Turning a server's top log-probs into a label distribution."""
from __future__ import annotations

import math

import numpy as np
import pytest

from polarlab.llm.remote import _sanitize_url, dist_from_top_logprobs

WORDS = ("ham", "spam")


def test_label_tokens_at_the_first_position():
    d, mass = dist_from_top_logprobs([[("spam", math.log(0.6)), ("ham", math.log(0.3)),
                                       ("The", math.log(0.1))]], WORDS)
    np.testing.assert_allclose(d, [1 / 3, 2 / 3])
    assert mass == pytest.approx(0.9)


def test_spellings_are_merged_and_markup_skipped():
    positions = [[("**", -0.1), ("\n", -3.0)],                     # markup first: skipped
                 [(" Spam", math.log(0.5)), ("spam", math.log(0.2)), (" ham", math.log(0.1))]]
    d, _ = dist_from_top_logprobs(positions, WORDS)
    np.testing.assert_allclose(d, [0.1 / 0.8, 0.7 / 0.8])


def test_partial_token_counts_for_the_only_label_it_starts():
    d, _ = dist_from_top_logprobs([[("sp", math.log(0.5)), ("ha", math.log(0.25))]], WORDS)
    np.testing.assert_allclose(d, [1 / 3, 2 / 3])


def test_missing_label_gets_the_smallest_listed_probability():
    d, mass = dist_from_top_logprobs([[("spam", math.log(0.7)), ("The", math.log(0.05))]], WORDS)
    np.testing.assert_allclose(d, [0.05 / 0.75, 0.7 / 0.75])
    assert mass == pytest.approx(0.7)


def test_no_label_named_gives_none():
    assert dist_from_top_logprobs([[("The", -0.1), ("I", -2.0)]], WORDS) is None
    assert dist_from_top_logprobs([], WORDS) is None


def test_url_sanitized_for_cache_keys():
    assert _sanitize_url("https://user:secret@host:8443/v1/?key=abc#x") == "https://host:8443/v1"
