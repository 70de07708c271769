"""Typed configuration of a span task (``[task] kind = "spans"``): pydantic models.

Example (as a dict / TOML tables)::

    data = {path = "NCBItestset_corpus.txt", format = "pubtator"}
    types = ["Disease"]
    [[sources]]  type = "dictionary", name = "disease_ontology", ontology = "../disease_ontology"
    [[sources]]  type = "function", name = "disease_heads"            # built-in, or "module:attr"
    [[sources]]  type = "regex", name = "syndromes", pattern = "\\b[A-Z]\\w+ syndrome\\b"
    [[sources]]  type = "llm", name = "llm"                           # embedded Gemma 3 270M
    harmonizer = {level = "auto", features = "minilm", fallback = true}
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..config.base import Section
from ..config.models import JobTaskSection


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DataSpec(_Strict):
    path: Path
    format: Literal["pubtator", "conll", "jsonl"] = "pubtator"
    label: Optional[str] = Field("Disease", description="PubTator: the label every mention gets (from Python, None "
                                                        "keeps each mention's own type; TOML has no None, so a "
                                                        "project file always relabels)")
    mention_types: list[str] = Field(default_factory=list, description=(
        'PubTator: keep only the mentions of these types as gold (case-insensitive, e.g. ["Disease"] in a BC5CDR '
        "file that also has Chemical mentions; each kept one gets label); empty = every type. A type no mention of "
        "the file has is an error naming the types it has"))
    limit: Optional[int] = Field(None, ge=1, description="the first N documents only")
    annotated: Literal["all", "with_mentions"] = Field(
        "all", description='PubTator: which documents carry gold. "all": a document without mention lines is '
                           'annotated with no entity (spans found there are false positives); "with_mentions": a '
                           "document without any mention line was not annotated (not scored)")
    annotated_ids: Optional[Path] = Field(
        None, description="PubTator: a file of the annotated documents' ids (one per line, # comments); the other "
                          "documents were not annotated (not scored). For a corpus whose annotated documents may "
                          "have no entity")

    @model_validator(mode="after")
    def _annotated_is_pubtator(self) -> "DataSpec":
        if self.mention_types and self.format != "pubtator":
            raise ValueError(f"@mention_types: mention_types chooses among a PubTator file's mention types; a "
                             f"{self.format} file's spans carry their labels. Fix: remove mention_types")
        key = "annotated_ids" if self.annotated_ids is not None else ("annotated" if self.annotated != "all" else None)
        if key is not None and self.format != "pubtator":
            raise ValueError(f"@{key}: {key} is for PubTator files; a {self.format} file says per document whether "
                             "it is annotated. Fix: remove " + key + (' (JSONL: a line without "spans" / "entities" '
                                                                      "is not annotated)" if self.format == "jsonl"
                                                                      else ""))
        if self.annotated_ids is not None and self.annotated != "all":
            raise ValueError("@annotated: both annotated and annotated_ids say which documents are annotated. "
                             "Fix: keep one of them")
        return self


class SourceSpec(_Strict):
    type: Literal["dictionary", "regex", "function", "llm"]
    name: str
    label: str = "Disease"
    # dictionary
    ontology: Optional[Path] = Field(None, description="an ontology file or folder (OBO, or TSV/CSV with id, name, "
                                                       "synonyms columns; a Disease Ontology folder: *.obo, HumanDO.tsv)")
    terms: Optional[Path] = Field(None, description="a file with one name per line")
    ignore_case: bool = True
    plurals: bool = True
    # regex
    pattern: Optional[str] = None
    # function: a built-in name (disease_heads, disease_suffixes, disease_acronyms) or "module:attr"
    function: Optional[str] = None
    # llm
    backend: str = Field("local", description="a registered LLM backend (polarlab.llm.backends): "
                                              '"local" (embedded llama.cpp), "openai", or a plugin\'s')
    backend_options: dict[str, Any] = Field(
        default_factory=dict, description="the backend's own keys (e.g. model, base_url for openai), checked by "
                                          "its settings model")
    gguf: Optional[Path] = None
    max_tokens: int = Field(24, ge=4)
    n_threads: Union[int, Literal["auto"]] = 2
    limit_docs: Optional[int] = Field(None, ge=1, description="ask the LLM about the first N documents only")


class HarmonizerSpec(_Strict):
    level: Literal["auto", "span", "token"] = Field(
        "auto", description='"span": the POLAR harmonizer over candidate spans (the union of the sources\' '
                            'proposals, span-level votes, non-overlapping selection); "token": the POLAR '
                            'harmonizer on token votes with BIO Viterbi; "auto": both, the one whose spans '
                            "agree best with held-out sources (no gold), majority vote when neither beats it")
    features: Literal["minilm", "shape"] = "minilm"
    model: Literal["lr", "mlp"] = "lr"
    scalarization: Literal["linear", "square", "2norm", "max"] = "linear"
    folds: int = Field(3, ge=2)
    fallback: bool = True
    seed: int = 0


class CorrectSpec(_Strict):
    budget: int = Field(0, ge=0, description="re-ask the LLM about this many riskiest spans")
    threshold: float = Field(0.5, ge=0.0, le=1.0)


class SpansConfig(_Strict):
    data: DataSpec
    types: list[str] = Field(default_factory=lambda: ["Disease"], min_length=1)
    sources: list[SourceSpec] = Field(min_length=1)
    harmonizer: HarmonizerSpec = HarmonizerSpec()
    correct: CorrectSpec = CorrectSpec()
    state_dir: Path = Path(".polarlab")
    output: Optional[Path] = Field(None, description="write the harmonized spans here (.jsonl, .txt PubTator, .conll)")


class TaskSpec(JobTaskSection):
    """``[task]`` of a spans project: also the span labels."""

    types: list[str] = Field(default_factory=lambda: ["Disease"], min_length=1,
                             description="the span labels (every source's label is one of them)")


class OutputSpec(Section):
    """``[output]`` of a spans project: the harmonized spans file, ``dir / spans`` relative to the project file
    (default ``out/spans.jsonl``; ``polarlab run --out DIR`` writes ``DIR/spans``)."""

    dir: str = "out"
    spans: str = Field("spans.jsonl", description="the file name: .jsonl, PubTator .txt or .conll")


SPANS_TABLES: dict[str, type[BaseModel]] = {"task": TaskSpec, "data": DataSpec, "[sources]": SourceSpec,
                                            "harmonizer": HarmonizerSpec, "correct": CorrectSpec, "output": OutputSpec}
"""A spans project's tables by their TOML names (``[[sources]]`` as ``"[sources]"``), besides ``[project]``;
``docs/config.md`` documents each."""
