"""Source types by name: the typed ``[[sources]]`` table of each, and how to build its sources.

A plugin adds a type without editing polarlab::

    from polarlab.sources.registry import SourceSettings, register_source_type

    class MySettings(SourceSettings):
        threshold: float = 0.5

    register_source_type("mine", MySettings, lambda cfg, ctx: [MySource(cfg.name, cfg.threshold)])

(or lists a function doing that under the ``polarlab.plugins`` entry-point group; see
:func:`polarlab.config.plugins.load_plugins`). ``cfg`` is the validated table, ``ctx`` a :class:`BuildContext`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

from pydantic import Field, model_validator

from ..config.base import Section
from ..data.dataset import Dataset
from .base import Source

Label = Union[int, str]


class SourceSettings(Section):
    """Keys every source type takes.

    Attributes:
        type: the source type (a key of ``SOURCE_TYPES``).
        fault_tolerant: keep going when this source raises on every row (default false: the run fails).
        max_failure_share: the run fails when the source raises on more than this share of rows
            (default: only when it fails on all of them).
    """

    type: str
    fault_tolerant: bool = False
    max_failure_share: Optional[float] = Field(None, ge=0.0, le=1.0)


class KeywordSettings(SourceSettings):
    """``type = "keyword"``: vote ``label`` when any of ``keywords`` occurs in ``column``."""

    name: str
    keywords: list[str] = Field(min_length=1)
    label: Label
    ignore_case: bool = True
    whole_word: bool = True
    column: str = "text"
    explain: Optional[str] = None


class RegexSettings(SourceSettings):
    """``type = "regex"``: vote ``label`` when ``pattern`` (RE2 syntax) matches ``column``."""

    name: str
    pattern: str
    label: Label
    ignore_case: bool = True
    column: str = "text"
    explain: Optional[str] = None


class DictionarySettings(SourceSettings):
    """``type = "dictionary"``: exactly one of ``terms`` (list, with ``label``; or table term -> label) or
    ``file`` (``term<TAB>label`` lines, or bare terms with ``label``)."""

    name: str
    terms: Optional[Union[list[str], dict[str, Label]]] = None
    file: Optional[str] = None
    label: Optional[Label] = None
    ignore_case: bool = True
    whole_word: bool = True
    column: str = "text"
    explain: Optional[str] = None

    @model_validator(mode="after")
    def _one_of(self) -> "DictionarySettings":
        if (self.terms is None) == (self.file is None):
            raise ValueError("give exactly one of 'terms' or 'file'. Fix: e.g. terms = [\"aspirin\"], label = \"drug\"")
        if isinstance(self.terms, list) and self.label is None:
            raise ValueError("a term list needs a 'label'. Fix: add label = \"...\"")
        return self


class PythonSettings(SourceSettings):
    """``type = "python"``: every ``@labeling_function`` / Snorkel LF in ``file`` (or those in ``names``)."""

    file: str
    names: Optional[list[str]] = None


class VotesSettings(SourceSettings):
    """``type = "votes"``: votes already in the data, in ``column``."""

    name: str
    column: str
    explain: Optional[str] = None


class WrenchSettings(SourceSettings):
    """``type = "wrench"``: the dataset's precomputed ``weak_labels`` (all, or ``names`` / ``indices``)."""

    names: Optional[list[str]] = None
    indices: Optional[list[int]] = None


class LLMSettings(SourceSettings):
    """``type = "llm"``: an LLM labeler (keys documented in :mod:`polarlab.llm.config`)."""

    name: str = "llm"
    backend: Literal["local", "openai"] = "local"
    mode: Literal["scoring", "generation"] = "scoring"
    calibrate: bool = True
    few_shot: list[dict[str, Any]] = []
    content_free: Optional[list[str]] = None
    min_confidence: float = Field(0.0, ge=0.0, le=1.0)
    price_in_per_1k: Optional[float] = Field(None, ge=0.0)
    price_out_per_1k: Optional[float] = Field(None, ge=0.0)
    cache: Optional[str] = None
    progress: bool = True
    max_tokens: Optional[int] = Field(None, ge=1)
    # local
    gguf: Optional[str] = None
    n_ctx: Optional[int] = Field(None, ge=64)
    n_threads: Optional[Union[int, Literal["auto"]]] = Field(
        None, description='CPU threads, or "auto" (default): the available CPUs less those other processes keep busy')
    reuse_prefix: Optional[bool] = None
    chat_template: Optional[str] = None
    # openai
    model: Optional[str] = None
    base_url: Optional[str] = None
    api_key_env: Optional[str] = None
    endpoint: Optional[Literal["chat", "completions"]] = None
    max_concurrency: Optional[int] = Field(None, ge=1)
    max_retries: Optional[int] = Field(None, ge=0)
    backoff_s: Optional[float] = Field(None, ge=0.0)
    backoff_max_s: Optional[float] = Field(None, ge=0.0)
    timeout_s: Optional[float] = Field(None, gt=0.0)
    top_logprobs: Optional[int] = Field(None, ge=1)
    max_prompt_tokens: Optional[int] = Field(None, ge=1)

    @model_validator(mode="after")
    def _backend_keys(self) -> "LLMSettings":
        own = {"local": LOCAL_ONLY, "openai": OPENAI_ONLY}[self.backend]
        other = "openai" if self.backend == "local" else "local"
        for k in sorted(self.model_fields_set - own - COMMON):
            raise ValueError(f"@{k}: key {k!r} is for backend = \"{other}\", not \"{self.backend}\". "
                             f"Fix: remove {k!r}, or set backend = \"{other}\"")
        if self.backend == "openai" and not self.model:
            raise ValueError("@model: an openai backend needs a model name. Fix: add model = \"<the server's model name>\"")
        if self.base_url is not None:             # checked with the file, before any file is written
            from ..errors import ConfigError
            from ..llm.remote import check_base_url

            try:
                check_base_url(self.base_url)
            except ConfigError as e:
                raise ValueError(f"@base_url: {e.message}. Fix: {e.fix}") from None
        return self


LOCAL_ONLY = {"gguf", "n_ctx", "n_threads", "reuse_prefix", "chat_template"}
OPENAI_ONLY = {"model", "base_url", "api_key_env", "endpoint", "max_concurrency", "max_retries", "backoff_s",
               "backoff_max_s", "timeout_s", "top_logprobs", "max_prompt_tokens"}
COMMON = set(SourceSettings.model_fields) | {"name", "backend", "mode", "calibrate", "few_shot", "content_free",
                                             "min_confidence", "price_in_per_1k", "price_out_per_1k", "cache",
                                             "progress", "max_tokens"}


@dataclass
class BuildContext:
    """What a builder may need besides its table.

    Attributes:
        base_dir: relative paths are read from here (the project file's folder).
        state_dir: the project's state folder (LLM caches).
        sample: a split of the data (e.g. to enumerate WRENCH weak-label columns).
        file: the project file, for messages.
        where: the table's key path, e.g. ``"sources[2] (kw_free)"``.
    """

    base_dir: Path
    state_dir: Path
    sample: Dataset | None = None
    file: str | None = None
    where: str = "sources"


Builder = Callable[[Any, BuildContext], "list[Source]"]


@dataclass(frozen=True)
class SourceType:
    """A registered source type: its settings model and its builder."""

    name: str
    settings: type[SourceSettings]
    build: Builder


SOURCE_TYPES: dict[str, SourceType] = {}


def register_source_type(name: str, settings: type[SourceSettings], build: Builder) -> None:
    """Make ``type = name`` available in project files (replaces an earlier registration of ``name``)."""
    SOURCE_TYPES[name] = SourceType(name, settings, build)
