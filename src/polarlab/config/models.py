"""The project file (``polarlab.toml``) as typed models: every table and key declared.

One model per table; ``[[sources]]`` tables are validated by their type's model from
:data:`polarlab.sources.registry.SOURCE_TYPES`. ``docs/config.md`` is generated from these models
(``python -m polarlab.config.docs``). Unknown keys and wrong types are refused with the file, the key path
and "did you mean …" (:func:`polarlab.config.base.config_error`).
"""
from __future__ import annotations

from pathlib import PurePath
from typing import Any, Literal, Optional, Union

from pydantic import Field, field_validator, model_validator

from .base import Section

OUTPUT_FORMATS = (".csv", ".jsonl", ".parquet")
HARMONIZER_METHOD = "polar"


class TaskSection(Section):
    """``[task]``: what to label. ``labels`` may be omitted for a WRENCH directory (read from its label.json)."""

    name: str = "task"
    labels: Optional[list[str]] = Field(None, min_length=2)
    kind: str = "text"
    instruction: str = ""
    text_column: str = "text"
    entity_columns: Optional[list[str]] = Field(None, min_length=2, max_length=2)
    verbalizers: Optional[list[str]] = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        from ..tasks import TASK_KINDS, known_kinds
        from .base import suggest

        if v not in TASK_KINDS:
            guess = suggest(v, known_kinds())
            hint = f"did you mean {guess!r}? " if guess else ""
            raise ValueError(f"unknown task kind. Fix: {hint}use one of {known_kinds()}")
        return v


class DataSection(Section):
    """``[data]``: exactly one of ``wrench`` (a WRENCH directory), ``path`` (one table; ``split_column`` splits
    it) or ``[data.splits]`` (split name -> file or list of files). Relative paths are read from the project
    file's folder."""

    wrench: Optional[str] = None
    path: Optional[str] = None
    splits: Optional[dict[str, Union[str, list[str]]]] = None
    text_column: Optional[str] = None
    label_column: Optional[str] = None
    id_column: Optional[str] = None
    entity_columns: Optional[list[str]] = Field(None, min_length=2, max_length=2)
    span_columns: Optional[list[str]] = Field(None, min_length=2, max_length=2)
    split_column: Optional[str] = None
    limit: Optional[int] = Field(None, ge=1, description="use only the first N rows of each split")
    fit_split: Optional[str] = Field(None, description="the split label models are fitted on (default: train, "
                                                       "else valid, else the first)")
    eval_split: Optional[str] = Field(None, description="the split whose risk calibration is plotted "
                                                        "(default: test, else the fit split)")

    @model_validator(mode="after")
    def _one_source(self) -> "DataSection":
        given = [k for k in ("wrench", "path", "splits") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"[data] needs exactly one of wrench, path, splits (got {given or 'none'}). "
                             'Fix: e.g. wrench = "../data/youtube" or path = "data.csv"')
        unread = {"wrench": ("text_column", "label_column", "id_column", "entity_columns", "span_columns",
                             "split_column"), "splits": ("split_column",)}.get(given[0], ())
        for key in unread:              # set, but never read with this kind of data: refused, not ignored
            if getattr(self, key) is not None:
                why = ("a WRENCH directory's JSON files name their own fields" if given[0] == "wrench"
                       else "[data.splits] names each split's files already")
                raise ValueError(f"@{key}: {key} is not read with {given[0]} ({why}). Fix: remove {key}"
                                 + ("" if given[0] == "wrench" else ", or give one table as path and split it "
                                                                   "by that column"))
        if self.splits is not None:
            if not self.splits:
                raise ValueError("[data.splits] is empty. Fix: e.g. train = \"train.csv\"")
            for name, files in self.splits.items():
                if isinstance(files, list) and not files:
                    raise ValueError(f"split {name!r} lists no files. Fix: {name} = [\"file.csv\"]")
        return self


class LabelModelSection(Section):
    """``[labelmodel]``: the label models fitted and compared, and whose labels are written."""

    methods: list[str] = Field(default_factory=lambda: ["mv", "snorkel", "dawid_skene", HARMONIZER_METHOD],
                               min_length=1)
    final: Optional[str] = Field(None, description='default: "polar" when among methods, else the last method')
    options: dict[str, dict[str, Any]] = Field(default_factory=dict,
                                              description="method -> its settings, e.g. {snorkel = {epochs = 200}}")

    @field_validator("methods")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        from ..labelmodels.registry import LABEL_MODELS

        known = sorted(LABEL_MODELS) + [HARMONIZER_METHOD]
        for m in v:
            if m.strip().lower() not in known:
                from .base import suggest

                guess = suggest(m, known)
                raise ValueError(f"unknown label model {m!r}. Fix: " + (f"did you mean {guess!r}? " if guess else "")
                                 + f"use some of {known}")
        return v

    @model_validator(mode="after")
    def _final(self) -> "LabelModelSection":
        if self.final is not None and self.final not in self.methods:
            raise ValueError(f"@final: final label model {self.final!r} is not among methods {self.methods}. "
                             "Fix: add it to methods or choose one of them")
        unknown = sorted(set(self.options) - set(self.methods))
        if unknown:
            raise ValueError(f"@options: options for {unknown}, which are not among methods {self.methods}. "
                             "Fix: add them to methods or remove their options")
        return self


class TransformerSection(Section):
    """``[harmonizer.transformer]``: options of the fine-tuned encoder (with ``model = "transformer"``)."""

    epochs: Optional[int] = Field(None, ge=1)
    lr: Optional[float] = Field(None, gt=0)
    head_lr: Optional[float] = Field(None, gt=0)
    batch_size: Optional[int] = Field(None, ge=1)
    max_length: Optional[int] = Field(None, ge=8)
    val_fraction: Optional[float] = Field(None, ge=0, lt=1)
    patience: Optional[int] = Field(None, ge=0)
    seed: Optional[int] = Field(None, description="default: the [harmonizer] seed")
    model_path: Optional[str] = None
    num_threads: Optional[int] = Field(None, ge=1)


class HarmonizerSection(Section):
    """``[harmonizer]``: POLAR's h(x) (used with ``"polar"`` among ``[labelmodel] methods``) and its features."""

    model: Literal["lr", "mlp", "transformer"] = "lr"
    scalarization: Literal["linear", "square", "2norm", "max"] = "linear"
    weights: Optional[Union[Literal["equal", "max_eigen", "min_var"], list[float]]] = None
    tune_llm_weight: bool = Field(True, description="choose the LLM's source weight without gold")
    combine: Union[str, float] = Field(
        "auto", description='final distribution: "auto" (chosen without gold among h(x) alone and the row\'s votes '
                            'with h(x) as prior: mv, mvh, onecoin:tau, ds:tau), "h" (h(x) alone), one of those, or a '
                            'number tau (= "ds:tau")')
    combine_candidates: Optional[list[str]] = None
    combine_groups: Optional[int] = Field(None, ge=2)
    combine_groups_by: Optional[Literal["random", "dependency", "conditional"]] = Field(
        None, description='how "auto" makes the source groups it leaves out: "random" (default), "dependency" '
                          '(sources voting the same class on the same rows beyond chance left out together) or '
                          '"conditional" (sources wrong together beyond what the estimated label explains)')
    combine_se: Optional[float] = Field(None, ge=0, description="\"auto\" keeps the first candidate whose held-out "
                                                              "agreement is within this many bootstrap standard errors "
                                                              "of the best (default 1; 0: the best)")
    labels_from: Optional[Literal["auto", "votes", "features"]] = Field(
        None, description='final labels from each row\'s votes (with h(x) as prior) or from its features only (the '
                          'two-stage classifier trained on the combined labels); "auto" chooses by the held-out '
                          'agreement (default "votes"; see docs/results/label_quality.md)')
    refit_prior: Optional[bool] = Field(None, description="refit h to the combined labels and use it as the prior "
                                                          "(a second stage; default true)")
    combine_folds: Optional[int] = Field(None, ge=2)
    n_seeds: Optional[int] = Field(None, ge=1, description="a seed ensemble: the final distributions (and the risk's) "
                                                          "are the mean of this many whole fits with seeds seed, "
                                                          "seed+10000, seed+20000, ... (default 1: one fit)")
    tune_grid: Optional[list[float]] = None
    tune_folds: Optional[int] = Field(None, ge=2)
    epochs: Optional[int] = Field(None, ge=1)
    lr: Optional[float] = Field(None, gt=0)
    weight_decay: Optional[float] = Field(None, ge=0)
    hidden: Optional[int] = Field(None, ge=1)
    patience: Optional[int] = Field(None, ge=0)
    val_fraction: Optional[float] = Field(None, ge=0, lt=1)
    seed: Optional[int] = None
    standardize: Optional[bool] = None
    min_delta: Optional[float] = Field(None, ge=0)
    num_threads: Optional[Union[int, Literal["auto"]]] = None
    optimizer: Optional[Literal["auto", "adam", "lbfgs"]] = None
    lbfgs_iter: Optional[int] = Field(None, ge=1)
    max_fit_rows: Optional[int] = Field(
        None, ge=1, description="fit rows above this are subsampled for fitting (h(x): stratified by vote pattern; "
                                "TF-IDF vocabulary and SVD: at random; seeded); every row is still predicted. "
                                "Default 50000")
    # features (FeatureSpec fields)
    features: str = Field("auto", description="feature extractor: auto (numeric for tabular data, relation "
                                              "features for relation tasks, else embedding) | embedding | tfidf | "
                                              "numeric | relation")
    entity_embeddings: Optional[bool] = None
    batch_size: Optional[int] = Field(None, ge=1, description="embedding batch size")
    device: Optional[str] = Field(None, description='the sentence encoder\'s torch device: "cpu" (default), "cuda", '
                                                   '"cuda:N" (GPU N), "mps" or "auto" (CUDA, then MPS, else the CPU); '
                                                   'a run asking for a device torch does not have stops before any '
                                                   'stage')
    max_features: Optional[int] = Field(None, ge=1)
    ngram_range: Optional[list[int]] = Field(None, min_length=2, max_length=2)
    n_components: Optional[int] = Field(None, ge=1)
    transformer: Optional[TransformerSection] = None

    @field_validator("features")
    @classmethod
    def _features(cls, v: str) -> str:
        from ..features.spec import FEATURE_KINDS

        if v not in FEATURE_KINDS:
            raise ValueError(f"unknown feature extractor. Fix: use one of {sorted(FEATURE_KINDS)}")
        return v

    @field_validator("device")
    @classmethod
    def _device(cls, v: Optional[str]) -> Optional[str]:
        from ..features.device import check_device

        return None if v is None else check_device(v)

    @model_validator(mode="after")
    def _transformer(self) -> "HarmonizerSection":
        if self.transformer is not None and self.model != "transformer":
            raise ValueError('@transformer: [harmonizer.transformer] is a table of options for model = "transformer". '
                             'Fix: set model = "transformer" in [harmonizer], or remove [harmonizer.transformer]')
        return self


class CorrectSection(Section):
    """``[correct]``: re-ask the riskiest LLM answers (needs ``"polar"`` among the methods and an LLM source).
    Fields besides ``strategy`` and ``splits`` are :class:`polarlab.correct.CorrectionConfig`'s."""

    strategy: str = Field(description='verify | evidence | fewshot | retrieval | harmonizer (or a component a plugin '
                                      'registered); "+" combines')
    splits: Optional[list[str]] = Field(None, description="splits to correct (default: every split)")
    threshold: Optional[float] = Field(None, ge=0, le=1)
    top_fraction: Optional[float] = Field(None, gt=0, le=1)
    budget: Optional[Union[int, float]] = Field(None, ge=0, description="a count (int) or a fraction of rows "
                                                                         "(float in (0, 1]); default 0.1")
    include_abstains: Optional[bool] = None
    update: Optional[Literal["rescore", "refit"]] = None
    fewshot_confirmed: Optional[int] = Field(None, ge=0)
    fewshot_hard: Optional[int] = Field(None, ge=0)
    fewshot_candidates: Optional[int] = Field(None, ge=1)
    confident: Optional[float] = Field(None, ge=0, le=1)
    low_risk: Optional[float] = Field(None, ge=0, le=1)
    retrieval_k: Optional[int] = Field(None, ge=1)
    retrieval_as: Optional[Literal["few_shot", "evidence"]] = None
    max_evidence: Optional[int] = Field(None, ge=0)
    max_demo_chars: Optional[int] = Field(None, ge=1)
    calibrate: Optional[bool] = None
    seed: Optional[int] = None

    @field_validator("strategy")
    @classmethod
    def _strategy(cls, v: str) -> str:
        from ..correct.strategy import parse_strategies
        from ..errors import ConfigError

        try:
            parsed = parse_strategies(v)
        except ConfigError as e:
            raise ValueError(f"{e.message}. Fix: {e.fix}") from None
        if len(parsed) != 1:
            raise ValueError('[correct] takes one strategy (bench wrench compares several). '
                             'Fix: use "+" to combine components, e.g. "evidence+fewshot"')
        return v

    @field_validator("budget")
    @classmethod
    def _budget(cls, v: Union[int, float, None]) -> Union[int, float, None]:
        if isinstance(v, float) and not 0.0 < v <= 1.0:
            raise ValueError("a float budget is a fraction of rows in (0, 1]. Fix: give an int for a count")
        return v


class OutputSection(Section):
    """``[output]``: where outputs go (relative to the project file)."""

    dir: str = "out"
    labels: str = Field("labels.csv", description="the labels file: .csv | .jsonl | .parquet")

    @field_validator("labels")
    @classmethod
    def _labels(cls, v: str) -> str:
        p = PurePath(v)
        if p.suffix.lower() not in OUTPUT_FORMATS:
            raise ValueError(f"unknown output type {p.suffix!r}. Fix: end the file name with one of "
                             f"{list(OUTPUT_FORMATS)}")
        if p.name != v:
            raise ValueError("the labels file is a name inside [output] dir. Fix: give a file name, "
                             "and the folder as dir")
        return v


class ProjectSection(Section):
    """``[project]``: where the project's state (LLM answers, embeddings, stage results) lives."""

    state_dir: str = ".polarlab"


def check_project_section(raw: dict, file: str | None) -> ProjectSection:
    """``[project]`` of the parsed tables ``raw`` of a project whose task kind has a runner of its own (linking,
    relevance, spans), checked as a label-task project's is: an unknown key (``statedir``) is a ConfigError with a
    did-you-mean, not a silent default."""
    from .base import validate

    return validate(ProjectSection, raw.get("project", {}), file=file, prefix="project", table="[project]")


class JobTaskSection(Section):
    """``[task]`` of a project whose kind has a job of its own (linking, relevance; spans adds ``types``): its kind,
    and a name the job does not read. Another key is refused with a did-you-mean."""

    kind: Optional[str] = Field(None, description='the job: "linking", "relevance" or "spans" (`polarlab link` '
                                                  "reads a linking project without it)")
    name: str = Field("task", description="a name for the project (not read by the job)")


def check_task_section(raw: dict, file: str | None, model: type[Section] = JobTaskSection) -> Any:
    """``[task]`` of the parsed tables ``raw`` of a project whose task kind has a runner of its own, checked by
    ``model``: an unknown key (``kinds``, ``type``) is a ConfigError with a did-you-mean, not ignored."""
    from .base import validate

    return validate(model, raw.get("task", {}), file=file, prefix="task", table="[task]")


class EngineSection(Section):
    """``[engine]``: where row-parallel work runs (:mod:`polarlab.engine`)."""

    kind: str = Field("local", description='"local" (this machine) or "ray" (a Ray cluster)')
    address: Optional[str] = Field(None, description='ray: the cluster ("auto" = the one `ray start` began here; '
                                                     'unset = start a local one)')
    partition_rows: Optional[int] = Field(None, ge=1, description="ray: rows per partition (task)")
    max_retries: Optional[int] = Field(None, ge=0, description="ray: retries of a partition whose worker died")
    num_cpus: Optional[int] = Field(None, ge=1, description="ray: CPUs of a local cluster started here")
    workers: Optional[int] = Field(None, ge=0, description="local: processes for Python labeling functions "
                                                         "(0 = one per available CPU)")

    @field_validator("kind")
    @classmethod
    def _kind(cls, v: str) -> str:
        from ..engine import ENGINES

        if v not in ENGINES:
            raise ValueError(f"unknown engine kind {v!r}. Fix: use one of {sorted(ENGINES)}")
        return v

    @model_validator(mode="after")
    def _keys_of_kind(self) -> "EngineSection":
        # a key only another kind reads (address with kind = "local") would be silently ignored
        from ..engine.base import foreign_engine_keys, foreign_key_problem

        for key in foreign_engine_keys(self.kind, list(self.options())):
            message, fix = foreign_key_problem(self.kind, key, default="kind" not in self.model_fields_set)
            raise ValueError(f"@{key}: {message}. Fix: {fix}")
        return self

    def options(self) -> dict[str, Any]:
        """The engine's keyword arguments (unset keys left to its defaults)."""
        return {k: v for k, v in self.model_dump().items() if k != "kind" and v is not None}


class ProjectConfig(Section):
    """The whole project file. ``sources`` are validated one by one by their type's model."""

    task: Optional[TaskSection] = None
    data: DataSection
    sources: list[Any] = Field(min_length=1)
    labelmodel: LabelModelSection = Field(default_factory=LabelModelSection)
    harmonizer: HarmonizerSection = Field(default_factory=HarmonizerSection)
    correct: Optional[CorrectSection] = None
    output: OutputSection = Field(default_factory=OutputSection)
    project: ProjectSection = Field(default_factory=ProjectSection)
    engine: EngineSection = Field(default_factory=EngineSection)


SECTIONS: dict[str, type[Section]] = {
    "task": TaskSection, "data": DataSection, "labelmodel": LabelModelSection, "harmonizer": HarmonizerSection,
    "correct": CorrectSection, "output": OutputSection, "project": ProjectSection, "engine": EngineSection,
}
