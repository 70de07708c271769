"""The relevance task's settings as a typed (pydantic) model.

In a project file::

    [task]
    kind = "relevance"

    [data]
    beir = "../shared/data/scifact"

    [relevance]              # every key optional
    llm = "local"            # or an OpenAI-compatible base URL
    budget = 3000            # LLM judgements for training
    methods = ["bm25", "dense", "fusion", "polar_self_training"]

:func:`load_relevance_project` reads such a file and :func:`from_project_tables` its parsed tables into a
:class:`RelevanceConfig`;
:func:`polarlab.relevance.run_relevance` runs it.
"""
from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..errors import ConfigError

METHODS = ("bm25", "dense", "fusion", "llm_labels", "polar", "polar_self_training", "supervised", "llm_rerank")
LLM_METHODS = ("llm_labels", "polar", "polar_self_training", "llm_rerank")
"""The methods that ask the LLM (its server is checked before any of them starts)."""
Method = Literal["bm25", "dense", "fusion", "llm_labels", "polar", "polar_self_training", "supervised",
                 "llm_rerank"]


class RelevanceConfig(BaseModel):
    """Settings of a relevance run (one default for every dataset; nothing here reads gold)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    data: str = Field(description="a BEIR folder (corpus.jsonl, queries.jsonl; qrels/train.tsv, qrels/test.tsv "
                                  "optional)")
    train_split: str = Field("train", description="qrels/<train_split>.tsv: its queries are the ones labelled; "
                                                  "without the file (and the key not set) every query that is not "
                                                  "a test query is labelled and `supervised` is skipped")
    test_split: str = Field("test", description="qrels/<test_split>.tsv scores the retrievers; without the file "
                                                "(and the key not set) the test metrics and the methods that only "
                                                "measure (bm25, dense, fusion, llm_rerank) are skipped. A key set "
                                                "to a split whose file is missing is an error")
    methods: list[Method] = Field(default_factory=lambda: list(METHODS))
    llm: str = Field("local", description='"local" (embedded Gemma 3 270M) or an OpenAI-compatible base URL')
    llm_model: Optional[str] = Field(None, description="the server's model name (remote llm)")
    llm_threads: int = Field(2, ge=1, description="CPU threads of the embedded LLM")
    budget: int = Field(3000, ge=0, description="LLM judgements for training (per LLM-labelled method)")
    doc_chars: int = Field(240, ge=40, description="characters of 'title. abstract' shown to the LLM")
    candidates_depth: int = Field(100, ge=1, description="top-k of each first-stage retriever")
    pool_depth: int = Field(20, ge=2, description="fused top-k per training query that gets labels")
    max_positives: int = Field(1, ge=1, description="LLM/POLAR-labelled positives per training query (best "
                                                  "first); on a dev split of SciFact train claims a 2nd "
                                                  "positive was right 14 % of the time, the 1st 74 %")
    hard_negatives: int = Field(1, ge=0, description="hard negatives per training positive, mined from the "
                                                   "query's pool pairs labelled not relevant (best-ranked first)")
    max_seq_length: int = Field(128, ge=16, description="bi-encoder tokens per text")
    batch_size: int = Field(16, ge=2)
    epochs: int = Field(1, ge=1)
    lr: float = Field(2e-5, gt=0)
    rounds: int = Field(1, ge=0, description="self-training rounds after round 0")
    first_share: float = Field(0.5, gt=0, le=1, description="share of the budget spent in round 0")
    per_query: int = Field(2, ge=1, description="new LLM pairs per query per self-training round")
    rerank_depth: int = Field(20, ge=1, description="llm_rerank: fused top-k reordered by the LLM")
    rerank_queries: Optional[int] = Field(None, ge=1, description="llm_rerank: only the first N test queries")
    train_queries: Optional[int] = Field(None, ge=2, description="use only the first N training queries")
    threads: int = Field(1, ge=1, description="torch threads")
    seed: int = 0

    @field_validator("llm")
    @classmethod
    def _local_or_url(cls, v: str) -> str:
        if v != "local" and not v.startswith(("http://", "https://")):
            raise ValueError(f'llm = {v!r} is neither "local" nor an http(s) URL; use "local" (the embedded model) '
                             'or a server\'s base URL such as "http://127.0.0.1:8000/v1"')
        return v


def _error(e: ValidationError, where: str, file: str | None) -> ConfigError:
    """The first problem as the project file's one-line ConfigError (key path, did-you-mean, the allowed values)."""
    from ..config.base import config_error

    return config_error(e, RelevanceConfig, file=file, prefix=where, table=f"[{where}]")


def make_config(file: str | None = None, *, strict: bool = False, **kw) -> RelevanceConfig:
    """:class:`RelevanceConfig` from keyword arguments; a bad key or value raises :class:`ConfigError`.
    ``strict``: types as strict as a project file's other tables (``"10"`` is not an integer; a file's tables are
    read so)."""
    try:
        return RelevanceConfig.model_validate(kw, strict=strict)
    except ValidationError as e:
        raise _error(e, "relevance", file) from None


def load_relevance_project(path: str | Path) -> RelevanceConfig:
    """Read a ``polarlab.toml`` with ``[task] kind = "relevance"`` (see the module docstring)."""
    import sys
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    try:
        tables = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("project file not found", file=str(path), fix="give the path of a polarlab.toml") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"not valid TOML ({e})", file=str(path), fix="fix the TOML syntax") from None
    known = ["task", "data", "relevance", "project"]
    unknown = sorted(set(tables) - set(known))
    if unknown:
        from ..config.base import suggest

        guess = suggest(unknown[0], known)
        where = (" (its outputs go to out/ beside the project file, or to `polarlab run --out DIR`)"
                 if unknown[0] == "output" else "")
        raise ConfigError(f"unknown table(s) {unknown}", file=str(path), column=unknown[0],
                          fix=(f"did you mean [{guess}]? " if guess else "")
                          + f"a relevance project has [task], [data], [relevance] and [project]{where}")
    from ..config.models import check_project_section, check_task_section

    check_task_section(tables, str(path))
    check_project_section(tables, str(path))
    return from_project_tables(tables, path)


def from_project_tables(tables: dict, file: str | Path | None = None) -> RelevanceConfig:
    """Config from a parsed project file with ``[task] kind = "relevance"``, ``[data] beir = DIR`` and an
    optional ``[relevance]`` table; relative paths are read from the project file's folder."""
    f = str(file) if file else None
    kind = tables.get("task", {}).get("kind")
    if kind != "relevance":
        raise ConfigError(f"[task] kind is {kind!r}", file=f, column="task.kind", fix='set kind = "relevance"')
    data = tables.get("data", {})
    if set(data) != {"beir"}:
        from ..config.base import suggest

        other = sorted(set(data) - {"beir"})
        guess = suggest(other[0], ["beir"]) if other else None
        raise ConfigError(f"[data] has keys {sorted(data)}", file=f, column=f"data.{other[0]}" if other else "data",
                          fix=(f"did you mean 'beir'? " if guess else "")
                          + 'a relevance task takes one key: beir = "path/to/beir/folder"')
    root = Path(data["beir"])
    if f and not root.is_absolute():
        root = Path(f).parent / root
    relevance = tables.get("relevance", {})
    if isinstance(relevance, dict) and "data" in relevance:     # make_config(data=..., **{"data": ...}): TypeError
        raise ConfigError("[relevance] data is not a key of this table", file=f, column="relevance.data",
                          fix='give the BEIR folder as [data] beir = "path/to/beir/folder" and remove [relevance] data')
    return make_config(f, strict=True, data=str(root), **relevance)
