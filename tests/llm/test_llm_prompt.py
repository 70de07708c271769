"""Prompt rendering (golden strings), truncation, answer parsing, calibration math."""
from __future__ import annotations

import numpy as np
import pytest

from polarlab.data.dataset import Example
from polarlab.llm import (CONTENT_FREE_INPUTS, LLMPromptError, PromptBuilder, PromptRequest,
                          calibrate, content_free_distribution, content_free_requests, parse_answer)
from polarlab.llm.prompt import TRUNCATION_MARK
from polarlab.task import Task

SMS = Task(labels=("ham", "spam"), instruction="Is this SMS spam?")
REL = Task(labels=("no_relation", "causes"), kind="relation",
           instruction="Does the chemical cause the disease?", verbalizers=("none", "causes"))


def test_golden_text_prompt_with_few_shot():
    req = PromptRequest(Example("x", "Call now  to\nclaim"),
                        few_shot=((Example("a", "free tickets!"), 1), (Example("b", "see you"), 0)))
    p = PromptBuilder().render(SMS, req)
    assert p.prefix == ("Is this SMS spam?\nLabels: ham, spam\nAnswer with one label only.\n\n"
                        "Text: free tickets!\nAnswer: spam\n\n"
                        "Text: see you\nAnswer: ham\n\n")
    assert p.suffix == "Text: Call now to claim\nAnswer:"
    assert p.text == p.prefix + p.suffix and not p.truncated


def test_golden_prompt_with_evidence_and_previous_answer():
    req = PromptRequest(Example("x", "you won"), evidence=("keyword rule 'won' votes spam",
                                                           "neighbour 'you won a prize' is spam"),
                        previous_answer=0, tag="verify")
    p = PromptBuilder().render(SMS, req)
    assert p.prefix == "Is this SMS spam?\nLabels: ham, spam\nAnswer with one label only.\n\n"
    assert p.suffix == ("Context:\n- keyword rule 'won' votes spam\n- neighbour 'you won a prize' is spam\n"
                        "Text: you won\n"
                        "Previous answer: ham. If it is right answer it again, otherwise answer the "
                        "correct label.\nAnswer:")


def test_golden_relation_prompt():
    req = PromptRequest(Example("r", "Aspirin induced asthma.", entity1="Aspirin", entity2="asthma"),
                        few_shot=((Example("f", "X is fine with Y.", entity1="X", entity2="Y"), 0),))
    p = PromptBuilder().render(REL, req)
    assert p.text == ("Does the chemical cause the disease?\nLabels: none, causes\n"
                      "Answer with one label only.\n\n"
                      "Text: X is fine with Y.\nEntity 1: X\nEntity 2: Y\nAnswer: none\n\n"
                      "Text: Aspirin induced asthma.\nEntity 1: Aspirin\nEntity 2: asthma\nAnswer:")


def test_same_few_shot_same_prefix():
    fs = ((Example("a", "free"), 1),)
    b = PromptBuilder()
    p1 = b.render(SMS, PromptRequest(Example("1", "hello"), few_shot=fs))
    p2 = b.render(SMS, PromptRequest(Example("2", "bye"), few_shot=fs, evidence=("e",)))
    assert p1.prefix == p2.prefix and p1.suffix != p2.suffix


def words(s: str) -> int:
    return len(s.split())


def test_truncation_cuts_the_example_never_the_instruction():
    long = " ".join(f"w{i}" for i in range(500))
    req = PromptRequest(Example("x", long), few_shot=((Example("a", "short demo"), 1),),
                        evidence=("a rule fired",))
    full = PromptBuilder().render(SMS, req)
    p = PromptBuilder().render(SMS, req, count_tokens=words, max_tokens=100)
    assert p.truncated and words(p.text) <= 100
    assert p.prefix == full.prefix                      # instruction, labels, demos intact
    assert "- a rule fired" in p.suffix and p.suffix.endswith("Answer:")
    assert TRUNCATION_MARK.strip() in p.suffix
    assert "Text: w0 w1 w2" in p.suffix and "w499" not in p.suffix
    # as much text as fits: one more word would not fit
    assert words(p.text) >= 100 - 2


def test_no_truncation_when_it_fits():
    req = PromptRequest(Example("x", "short"))
    p = PromptBuilder().render(SMS, req, count_tokens=words, max_tokens=100)
    assert not p.truncated and "[...]" not in p.text


def test_prompt_that_cannot_fit_is_an_error():
    req = PromptRequest(Example("x", "text"), few_shot=((Example("a", "demo " * 50), 1),))
    with pytest.raises(LLMPromptError, match="context"):
        PromptBuilder().render(SMS, req, count_tokens=words, max_tokens=20)


def test_bad_few_shot_label_is_an_error():
    with pytest.raises(LLMPromptError):
        PromptBuilder().render(SMS, PromptRequest(Example("x", "t"), few_shot=((Example("a", "d"), 5),)))


@pytest.mark.parametrize("text,label", [
    ("spam", 1), ("ham", 0), (" Spam.", 1), ("It is HAM", 0), ("**spam**", 1),
    ("spam? no wait, ham", 1),            # the first label named wins
    ("unsure, maybe spam", -1),           # uncertainty before any label
    ("spam, but I am unsure", 1),
    ("", -1), (None, -1), ("hamburger", -1), ("I cannot tell", -1), ("banana", -1),
])
def test_parse_rules(text, label):
    assert parse_answer(text, SMS) == label


def test_parse_label_names_and_verbalizers_relation():
    assert parse_answer("none", REL) == 0          # "none" is a verbalizer here, not uncertainty
    assert parse_answer("no relation", REL) == 0   # label name with _ matched by a space
    assert parse_answer("It causes it", REL) == 1


def test_calibration_hand_example():
    p = np.array([[0.8, 0.2], [0.95, 0.05]])
    p_cf = np.array([0.9, 0.1])
    q = calibrate(p, p_cf)
    # [0.8/0.9, 0.2/0.1] = [0.8889, 2.0] -> [0.30769, 0.69231]
    np.testing.assert_allclose(q[0], [0.8 / 0.9 / (0.8 / 0.9 + 2.0), 2.0 / (0.8 / 0.9 + 2.0)])
    np.testing.assert_allclose(q[0], [0.307692, 0.692308], atol=1e-6)
    np.testing.assert_allclose(q.sum(axis=1), 1.0)
    assert q[1].argmax() == 0  # 0.95/0.9 > 0.05/0.1
    # uniform content-free distribution changes nothing
    np.testing.assert_allclose(calibrate(p, np.array([0.5, 0.5])), p)
    # NaN content-free (no distribution) leaves p unchanged; NaN rows stay NaN
    np.testing.assert_allclose(calibrate(p, np.array([np.nan, np.nan])), p)
    assert np.isnan(calibrate(np.array([[np.nan, np.nan]]), p_cf)).all()


def test_content_free_distribution_and_requests():
    d = content_free_distribution(np.array([[0.6, 0.4], [0.8, 0.2], [np.nan, np.nan]]))
    np.testing.assert_allclose(d, [0.7, 0.3])
    fs = ((Example("a", "demo"), 1),)
    req = PromptRequest(Example("x", "real text", entity1="A", entity2="B"), few_shot=fs,
                        evidence=("ev",), previous_answer=1)
    cf = content_free_requests(req)
    assert [r.example.text for r in cf] == list(CONTENT_FREE_INPUTS)
    assert all(r.few_shot == fs and r.evidence == () and r.previous_answer is None for r in cf)
    assert cf[0].example.entity1 == "N/A"
