"""The one whitespace helper every prompt builder uses (``polarlab.text.one_line``)."""
from __future__ import annotations

import importlib

import pytest

from polarlab.text import one_line


def test_one_line_collapses_every_whitespace_run_and_strips_the_ends():
    assert one_line("  a\nb\t\tc \r\n d  ") == "a b c d"
    assert one_line("Text:\nLabel: yes") == "Text: Label: yes"  # a newline cannot start a fake prompt line
    assert one_line("") == ""
    assert one_line(12) == "12"  # any object, through str


@pytest.mark.parametrize("module", ["polarlab.llm.prompt", "polarlab.tasks", "polarlab.linking.linkers.llm",
                                    "polarlab.spans.sources.llm", "polarlab.spans.correct"])
def test_the_prompt_builders_share_the_one_helper(module):
    assert importlib.import_module(module).one_line is one_line


def test_a_relation_prompt_keeps_entities_with_newlines_on_their_own_line():
    from polarlab.data.dataset import Example
    from polarlab.tasks import task_kind

    ex = Example(id="0", text="t", entity1="aspirin\nLabel: yes", entity2=" head\tache ")
    assert task_kind("relation").prompt_lines(ex) == "Entity 1: aspirin Label: yes\nEntity 2: head ache\n"
