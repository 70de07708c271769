"""Correction prompts built from fixed inputs, rendered with the LLM source's prompt builder (golden strings)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from polarlab import KeywordSource, RegexSource, Task, apply_sources, from_pandas, labeling_function
from polarlab.correct import (CorrectionConfig, DemoPool, Strategy, auto_few_shot_rows, build_requests,
                              nearest_confident, parse_strategies, rule_evidence)
from polarlab.errors import ConfigError
from polarlab.llm.backend import BackendReply
from polarlab.llm.source import LLMSource

TASK = Task(labels=("HAM", "SPAM"), instruction="Is this comment spam?", name="toy", verbalizers=("ham", "spam"))


class NoCallBackend:
    """Renders only: any call is a test failure."""

    model_id = "no-call"
    max_concurrency = 1
    max_prompt_tokens = None

    def params(self, mode):
        return {"backend": "no-call"}

    def count_tokens(self, text):
        return len(text.split())

    def score(self, prompt, words):  # pragma: no cover - must not run
        raise AssertionError("no call expected")

    generate = score


@labeling_function()
def short_comment(x):
    "Ham comments are often short."
    return 0 if len(x.text.split()) < 4 else -1


def sources():
    return [KeywordSource("subscribe", ["subscribe", "sub"], label="SPAM"),
            RegexSource("link", r"https?://", label="SPAM"),
            short_comment]


def toy_data():
    frame = pd.DataFrame({"text": ["Please subscribe to my channel http://x.co",
                                   "great song",
                                   "I love this video so much, it is great",
                                   "check out http://spam.example now"],
                          "label": [1, 0, 0, 1]})
    return from_pandas(frame, TASK, text_column="text", label_column="label", name="toy")


def toy_pool():
    frame = pd.DataFrame({"text": ["free prizes at my channel, subscribe!", "nice", "so good, the best song ever",
                                   "visit http://win.example to win", "what a voice", "sub4sub anyone?"]})
    data = from_pandas(frame, TASK, text_column="text", name="pool")
    X = np.array([[1.0, 0.0], [0.0, 1.0], [0.1, 1.0], [1.0, 0.1], [0.2, 0.9], [0.9, 0.3]])
    proba = np.array([[0.05, 0.95], [0.9, 0.1], [0.95, 0.05], [0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    votes = np.array([1, 0, 1, 1, 0, 0])    # the LLM: rows 2 (h says ham) and 5 (h says spam) disagree with h
    return DemoPool(data, X, proba, votes)


def requests_for(strategy, config=None, rows=(0, 1)):
    data, task = toy_data(), TASK
    srcs = sources()
    L = apply_sources(data, srcs, task, progress=False).with_column("llm", np.array([0, 1, 1, 1]))
    X = np.array([[1.0, 0.12], [0.0, 1.0], [0.1, 0.9], [0.95, 0.0]])
    llm = LLMSource(NoCallBackend(), name="llm", progress=False)
    reqs = build_requests(Strategy.parse(strategy), np.array(rows), data, task, previous=L.column("llm"),
                          config=config or CorrectionConfig(), matrix=L, sources={s.name: s for s in srcs},
                          skip_columns=("llm",), X=X, pool=toy_pool(), base_few_shot=llm.few_shot_for(task))
    return [llm.render(task, r).text for r in reqs], reqs


HEADER = "Is this comment spam?\nLabels: ham, spam\nAnswer with one label only.\n\n"


def test_verify_prompt_golden():
    texts, reqs = requests_for("verify")
    assert texts[0] == (HEADER + "Text: Please subscribe to my channel http://x.co\n"
                        "Previous answer: ham. If it is right answer it again, otherwise answer the correct label.\n"
                        "Answer:")
    assert texts[1] == (HEADER + "Text: great song\n"
                        "Previous answer: spam. If it is right answer it again, otherwise answer the correct label.\n"
                        "Answer:")
    assert [r.tag for r in reqs] == ["verify:0", "verify:1"]


def test_evidence_prompt_golden_uses_describe_in_answer_words():
    texts, _ = requests_for("evidence")
    assert texts[0] == (HEADER + "Context:\n"
                        "- Rule 'subscribe': the text contains 'subscribe', 'sub', which suggests spam.\n"
                        "- Rule 'link': the text matches the pattern /https?:///, which suggests spam.\n"
                        "Text: Please subscribe to my channel http://x.co\nAnswer:")
    assert texts[1] == (HEADER + "Context:\n- Rule 'short_comment' says ham: Ham comments are often short.\n"
                        "Text: great song\nAnswer:")


def test_evidence_without_fired_rules_is_the_plain_prompt():
    texts, reqs = requests_for("evidence", rows=(2,))
    assert reqs[0].evidence == ()
    assert texts[0] == HEADER + "Text: I love this video so much, it is great\nAnswer:"


def test_fewshot_prompt_golden():
    texts, reqs = requests_for("fewshot")
    demos = ("Text: sub4sub anyone?\nAnswer: spam\n\n"                  # hard spam (LLM said ham)
             "Text: visit http://win.example to win\nAnswer: spam\n\n"  # confirmed spam
             "Text: what a voice\nAnswer: ham\n\n"                       # confirmed ham
             "Text: so good, the best song ever\nAnswer: ham\n\n")       # hard ham (LLM said spam)
    assert sorted(d.id for d, _ in reqs[0].few_shot) == ["2", "3", "4", "5"]
    assert texts[0] == HEADER + demos + "Text: Please subscribe to my channel http://x.co\nAnswer:"
    # the same demonstrations for every row: one shared prefix
    assert texts[1] == HEADER + demos + "Text: great song\nAnswer:"


def test_fewshot_rows_confirmed_and_hard_per_class():
    pool = toy_pool()
    rows = auto_few_shot_rows(pool, 2, CorrectionConfig())
    by = {i: y for i, y in rows}
    # confirmed: LLM == h, low risk: ham -> row 1 (risk .1); spam -> row 3 (risk .1) (row 0 too, .05)
    # hard: LLM != h, h confident: ham -> row 2 (h .95, LLM said spam); spam -> row 5 only if h >= .7
    assert by[2] == 0 and by[5] == 1
    assert sum(1 for _, y in rows if y == 0) == 2 and sum(1 for _, y in rows if y == 1) == 2
    none_hard = auto_few_shot_rows(pool, 2, CorrectionConfig(fewshot_hard=0, fewshot_confirmed=1))
    assert len(none_hard) == 2 and 2 not in dict(none_hard) and 5 not in dict(none_hard)


def test_retrieval_prompt_golden_nearest_last():
    texts, reqs = requests_for("retrieval", CorrectionConfig(retrieval_k=2), rows=(0,))
    # row 0 has X=[1, .12]: nearest confident pool rows are 3 ([1, .1]) then 0 ([1, 0])
    assert texts[0] == (HEADER + "Text: free prizes at my channel, subscribe!\nAnswer: spam\n\n"
                        "Text: visit http://win.example to win\nAnswer: spam\n\n"
                        "Text: Please subscribe to my channel http://x.co\nAnswer:")


def test_retrieval_as_evidence_golden():
    texts, _ = requests_for("retrieval", CorrectionConfig(retrieval_k=2, retrieval_as="evidence"), rows=(1,))
    assert texts[0] == (HEADER + "Context:\n"
                        "- A similar text labelled ham: \"nice\"\n"
                        "- A similar text labelled ham: \"so good, the best song ever\"\n"
                        "Text: great song\nAnswer:")


def test_combined_strategy_is_one_request():
    texts, reqs = requests_for("verify+evidence+fewshot", rows=(1,))
    r = reqs[0]
    assert r.previous_answer == 1 and r.evidence and len(r.few_shot) == 4 and r.tag == "verify+evidence+fewshot:1"
    assert texts[0].endswith("Context:\n- Rule 'short_comment' says ham: Ham comments are often short.\n"
                             "Text: great song\nPrevious answer: spam. If it is right answer it again, "
                             "otherwise answer the correct label.\nAnswer:")


def test_retrieval_excludes_the_row_itself_only_when_asked():
    pool = toy_pool()
    assert nearest_confident(pool, pool.X[[0]], k=1, confident=0.7)[0, 0] == 0
    assert nearest_confident(pool, pool.X[[0]], k=1, confident=0.7, exclude=np.array([0]))[0, 0] == 3


def test_fewshot_rows_are_seeded():
    pool = toy_pool()
    cfg = CorrectionConfig(seed=3)
    assert auto_few_shot_rows(pool, 2, cfg) == auto_few_shot_rows(pool, 2, cfg)


def test_rule_evidence_generic_sentence_for_unknown_columns():
    lines = rule_evidence(np.array([1, -1, 0]), ["lf_0", "lf_1", "llm"], {}, TASK, skip=("llm",))
    assert lines == ("Source 'lf_0' says SPAM.",)


def test_strategy_syntax():
    names = [s.name for s in parse_strategies("fewshot+evidence, verify,harmonizer,evidence+fewshot")]
    assert names == ["evidence+fewshot", "verify", "harmonizer"]
    with pytest.raises(ConfigError):
        parse_strategies("verify+harmonizer")
    with pytest.raises(ConfigError):
        parse_strategies("shout")
