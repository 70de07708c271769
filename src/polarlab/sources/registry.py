"""Source types by name: the typed ``[[sources]]`` table of each, and how to build its sources.

A plugin adds a type without editing polarlab::

    from polarlab.sources.registry import SourceSettings, register_source_type

    class MySettings(SourceSettings):
        threshold: float = 0.5

    register_source_type("mine", MySettings, lambda cfg, ctx: [MySource(cfg.name, cfg.threshold)])

(or lists a function doing that under the ``polarlab.plugins`` entry-point group; see
:func:`polarlab.plugins.load_plugins`). ``cfg`` is the validated table, ``ctx`` a :class:`BuildContext`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Literal, Optional, Union

from pydantic import Field, model_validator

from ..config.base import Section
from ..data.dataset import Dataset
from ..task import Task
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


class RulesSettings(SourceSettings):
    """``type = "rules"``: one source per ``pattern->label`` line of ``file`` (e.g. LLM-written rules such as
    DataSculpt's); ``matching``: ``stemmed`` (the phrase among the text's Porter-stemmed words, DataSculpt's
    keyword LFs), ``keyword`` (whole words), ``substring`` or ``regex``; ``prefix`` goes before each source's name
    (the line, e.g. ``subscrib->1``). A repeated line is read once."""

    file: str
    matching: Literal["stemmed", "keyword", "substring", "regex"] = "stemmed"
    prefix: str = ""


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


@dataclass
class BuildContext:
    """What a builder may need besides its table.

    Attributes:
        base_dir: relative paths are read from here (the project file's folder).
        state_dir: the project's state folder (LLM caches).
        sample: a split of the data (e.g. to enumerate WRENCH weak-label columns).
        file: the project file, for messages.
        where: the table's key path, e.g. ``"sources[2] (kw_free)"``.
        task: the project's task (None: labels are checked when the sources are applied).
    """

    base_dir: Path
    state_dir: Path
    sample: Dataset | None = None
    file: str | None = None
    where: str = "sources"
    task: Task | None = None


Builder = Callable[[Any, BuildContext], "list[Source]"]


@dataclass(frozen=True)
class SourceType:
    """A registered source type: its settings model and its builder.

    Attributes:
        settings_for: when set, picks the model of one table (a subclass of ``settings``), e.g. the ``llm``
            type joins its common keys with those of the table's backend.
    """

    name: str
    settings: type[SourceSettings]
    build: Builder
    settings_for: Optional[Callable[[dict], type[SourceSettings]]] = None

    def model_for(self, table: dict) -> type[SourceSettings]:
        """The model that validates ``table``."""
        return self.settings if self.settings_for is None else self.settings_for(table)


SOURCE_TYPES: dict[str, SourceType] = {}


def register_source_type(name: str, settings: type[SourceSettings], build: Builder, *,
                         settings_for: Optional[Callable[[dict], type[SourceSettings]]] = None) -> None:
    """Make ``type = name`` available in project files (replaces an earlier registration of ``name``).

    Args:
        name: the value of ``type``.
        settings: the model of the table (documented in ``docs/config.md``).
        build: ``build(cfg, ctx) -> list[Source]``.
        settings_for: optional ``settings_for(table) -> model`` when the keys depend on the table.
    """
    SOURCE_TYPES[name] = SourceType(name, settings, build, settings_for)
