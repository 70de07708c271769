"""LLM instructions and answer words for the WRENCH datasets polarlab is benchmarked on.

WRENCH directories carry only label ids → names; an LLM needs a sentence and readable answer words.
Unknown datasets get a generic instruction and their label names as answer words.
"""
from __future__ import annotations

from ..task import Task

KNOWN: dict[str, dict] = {
    "youtube": dict(
        instruction="Decide whether this YouTube comment is spam (advertising, self-promotion, links, "
                    "requests to subscribe or visit a channel) or ham (a genuine comment about the video).",
        verbalizers=("ham", "spam")),
    "sms": dict(
        instruction="Decide whether this SMS text message is spam (unsolicited advertising, prizes, "
                    "premium-rate offers) or ham (a normal personal message).",
        verbalizers=("ham", "spam")),
    "trec": dict(
        instruction="Classify what kind of answer this question asks for: a description or definition, "
                    "an entity (a thing, object, animal, colour, ...), a human (a person or group), an "
                    "abbreviation, a location, or a number (count, date, amount, ...).",
        verbalizers=("description", "entity", "human", "abbreviation", "location", "number")),
    "chemprot": dict(
        instruction="Classify the relation the sentence states between the chemical and the gene/protein "
                    "marked as entity 1 and entity 2.",
        verbalizers=("part", "regulator", "upregulator", "downregulator", "agonist", "antagonist",
                     "modulator", "cofactor", "substrate", "none")),
}


def llm_task(task: Task) -> Task:
    """``task`` with the instruction and verbalizers known for its dataset name (else unchanged)."""
    known = KNOWN.get(task.name.lower())
    if not known or len(known["verbalizers"]) != task.n_classes:
        return task
    return Task(labels=task.labels, kind=task.kind, name=task.name, instruction=known["instruction"],
                text_column=task.text_column, entity_columns=task.entity_columns,
                verbalizers=known["verbalizers"])
