"""Render a :class:`PromptRequest` into prompt text, split into a shared prefix and a suffix.

Layout (``{...}`` are filled in; bracketed blocks appear only when present)::

    {task.instruction}
    Labels: {w_0}, {w_1}, ..., {w_k-1}
    Answer with one label only.
                                                   <- blank line
    [Text: {few-shot text}                          <- one block per demonstration
    [Entity 1: ... / Entity 2: ...]                 <- relation tasks
    Answer: {w_y}
    ]                                               <- blank line after each block
    ---------------- end of the shared prefix ----------------
    [Context:
    - {evidence line}...]
    Text: {example text}
    [Entity 1: {entity1}
    Entity 2: {entity2}]
    [Previous answer: {w_p}. If it is right answer it again, otherwise answer the correct label.]
    Answer:

``w_j`` is ``task.answer_words[j]`` (verbalizers, else label names). The prefix depends only on
the task and the demonstrations, so every request with the same demonstrations shares it and
the embedded backend evaluates it once. Rendering is deterministic (golden-string testable).
Every inserted text (example, entities, demonstrations, evidence) is collapsed to one line
(runs of whitespace → one space), so an input cannot fake the prompt's structure.

Prompts longer than the budget are cut in the example text only — never the instruction,
labels, demonstrations or evidence — and flagged ``truncated``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from ..data.dataset import Example
from ..task import Task
from ..text import one_line
from .errors import LLMPromptError
from .request import PromptRequest

#: Appended to an example text that was cut to fit the context.
TRUNCATION_MARK = " [...]"


@dataclass(frozen=True)
class RenderedPrompt:
    """A prompt as text.

    Attributes:
        prefix: the shared part (instruction, labels, demonstrations).
        suffix: the per-example part, ending with the answer cue ``"Answer:"``.
        truncated: the example text was cut to fit ``max_tokens``.
    """

    prefix: str
    suffix: str
    truncated: bool = False

    @property
    def text(self) -> str:
        """The full prompt, ``prefix + suffix``."""
        return self.prefix + self.suffix


class PromptBuilder:
    """Builds prompts for a task.

    Parameters:
        answer_cue: the last line of every prompt (the model answers after it).
    """

    def __init__(self, answer_cue: str = "Answer:") -> None:
        self.answer_cue = answer_cue

    # -- pieces ---------------------------------------------------------------------------
    def header(self, task: Task) -> str:
        """Instruction + label list (+ a blank line)."""
        words = ", ".join(task.answer_words)
        return f"{one_line(task.instruction)}\nLabels: {words}\nAnswer with one label only.\n\n"

    def example_block(self, task: Task, ex: Example, text: str | None = None) -> str:
        """``Text:`` line (+ entity lines for relation tasks), without the answer cue."""
        body = f"Text: {one_line(ex.text if text is None else text)}\n"
        return body + task.kind_spec.prompt_lines(ex)

    def prefix(self, task: Task, few_shot: tuple[tuple[Example, int], ...]) -> str:
        """The shared prefix: header and demonstrations."""
        out = [self.header(task)]
        for ex, y in few_shot:
            if not 0 <= y < task.n_classes:
                raise LLMPromptError(f"few-shot label {y} is not a class index 0..{task.n_classes - 1}",
                                     row=ex.id, column="few_shot",
                                     fix="give each demonstration a valid label")
            out.append(f"{self.example_block(task, ex)}{self.answer_cue} {task.answer_words[y]}\n\n")
        return "".join(out)

    def suffix(self, task: Task, req: PromptRequest, text: str | None = None) -> str:
        """The per-example part; ``text`` overrides the example text (truncation)."""
        out = []
        if req.evidence:
            out.append("Context:\n" + "".join(f"- {one_line(e)}\n" for e in req.evidence))
        out.append(self.example_block(task, req.example, text))
        if req.previous_answer is not None:
            if not 0 <= req.previous_answer < task.n_classes:
                raise LLMPromptError(f"previous_answer {req.previous_answer} is not a class index",
                                     row=req.example.id, column="previous_answer",
                                     fix=f"use 0..{task.n_classes - 1}")
            w = task.answer_words[req.previous_answer]
            out.append(f"Previous answer: {w}. If it is right answer it again, "
                       "otherwise answer the correct label.\n")
        out.append(self.answer_cue)
        return "".join(out)

    # -- whole prompt ---------------------------------------------------------------------
    def render(self, task: Task, req: PromptRequest, *,
               count_tokens: Callable[[str], int] | None = None,
               max_tokens: int | None = None) -> RenderedPrompt:
        """Render ``req``; cut the example text when the prompt exceeds ``max_tokens``.

        Parameters:
            count_tokens: counts the tokens of a prompt text (the backend's tokenizer).
            max_tokens: the prompt budget in tokens; None = no limit.

        Raises:
            LLMPromptError: even an empty example text does not fit.
        """
        prefix = self.prefix(task, req.few_shot)
        suffix = self.suffix(task, req)
        if count_tokens is None or max_tokens is None or count_tokens(prefix + suffix) <= max_tokens:
            return RenderedPrompt(prefix, suffix, False)
        text = one_line(req.example.text)

        def fits(n_chars: int) -> bool:
            cut = text[:n_chars].rstrip() + TRUNCATION_MARK
            return count_tokens(prefix + self.suffix(task, req, cut)) <= max_tokens

        if not fits(0):
            raise LLMPromptError(
                f"the instruction, labels, demonstrations and evidence alone exceed the "
                f"context budget of {max_tokens} tokens", row=req.example.id, column="prompt",
                fix="use fewer or shorter few-shot examples / evidence lines, or a larger n_ctx")
        lo, hi = 0, len(text)  # fits(lo) holds, fits(hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if fits(mid):
                lo = mid
            else:
                hi = mid
        cut = text[:lo].rstrip() + TRUNCATION_MARK
        return RenderedPrompt(prefix, self.suffix(task, req, cut), True)
