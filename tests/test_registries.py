"""Plugin seams: a source type, a label model, a feature extractor and a task kind added without editing
polarlab, then used from a project file."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from polarlab import load_project
from polarlab.errors import ConfigError
from polarlab.pipeline import run

from test_project import make_project


def test_plugin_source_type_and_label_model(tmp_path: Path, monkeypatch) -> None:
    from polarlab.labelmodels.majority import MajorityVote
    from polarlab.labelmodels.registry import LABEL_MODELS, register_label_model
    from polarlab.sources.registry import SOURCE_TYPES, SourceSettings, register_source_type
    from polarlab.sources.rules import KeywordSource

    class LengthSettings(SourceSettings):
        name: str
        min_words: int
        label: str

    def build(cfg, ctx):
        # a long comment is ham: a keyword source on nothing, replaced by a word count rule
        src = KeywordSource(name=cfg.name, keywords=["zzzz"], label=cfg.label)
        return [src]

    monkeypatch.setitem(SOURCE_TYPES, "length", None)
    register_source_type("length", LengthSettings, build)
    monkeypatch.setitem(LABEL_MODELS, "mv2", MajorityVote)
    register_label_model("mv2", MajorityVote)
    p = make_project(tmp_path)
    p.write_text(p.read_text().replace("[labelmodel]", '[[sources]]\ntype = "length"\nname = "long"\nmin_words = 3\n'
                                       'label = "ham"\n\n[labelmodel]').replace('methods = ["mv"]',
                                                                                 'methods = ["mv", "mv2"]'))
    result = run(load_project(p), progress=False)
    assert "long" in result.matrices["train"].names
    np.testing.assert_array_equal(result.probas["mv"]["test"], result.probas["mv2"]["test"])
    p.write_text(p.read_text().replace("min_words = 3", 'min_words = "three"'))
    with pytest.raises(ConfigError) as e:
        load_project(p)
    assert e.value.column == "sources[4].min_words"


def test_task_kind_and_feature_registries_are_used(tmp_path: Path, monkeypatch) -> None:
    from polarlab.features.registry import FEATURE_KINDS
    from polarlab.features.spec import make_features
    from polarlab.task import Task
    from polarlab.tasks import TASK_KINDS, TaskKind, register_task_kind

    monkeypatch.setitem(TASK_KINDS, "relevance", None)
    register_task_kind(TaskKind("relevance", "Is the passage relevant to the query?", uses_entities=True,
                                prompt_lines=lambda ex: f"Query: {ex.entity1}\n"))
    t = Task(labels=("no", "yes"), kind="relevance")
    assert t.instruction == "Is the passage relevant to the query?"
    with pytest.raises(ConfigError, match="relevance"):
        Task(labels=("no", "yes"), kind="relevanse")

    class Ones:
        def fit(self, data):
            return self

        def transform(self, data):
            return np.ones((len(data), 2))

    monkeypatch.setitem(FEATURE_KINDS, "ones", lambda spec: Ones())
    assert make_features("ones").fit(["a"]).transform(["a", "b"]).shape == (2, 2)


def test_labeling_function_without_parentheses_is_a_clear_error() -> None:
    from polarlab import labeling_function

    with pytest.raises(ConfigError, match=r"without parentheses.*@labeling_function\(\)"):
        @labeling_function
        def spammy(x):
            return 1


class _OnlyProba:
    """A user's label model with only the protocol's two methods: the vote share of each class."""

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes

    def fit(self, L, X=None):
        return self

    def predict_proba(self, L, X=None):
        L = np.asarray(L)
        counts = np.stack([(L == k).sum(1) for k in range(self.n_classes)], axis=1) + 1e-9
        return counts / counts.sum(1, keepdims=True)


def test_a_plugin_label_model_gets_predict_and_score_from_the_base_or_is_refused_naming_what_to_add(
        tmp_path: Path, monkeypatch) -> None:
    """A label model registered with only fit/predict_proba is refused when registered (a class) and when built (a
    factory put in LABEL_MODELS by hand), naming its class and LabelModelBase, and a project naming it stops in
    preflight on labelmodel.methods with no run recorded; the same class subclassing LabelModelBase gets predict
    (the argmax) and score (Snorkel's accuracy) and runs in a project."""
    from polarlab.labelmodels import LabelModelBase
    from polarlab.labelmodels.registry import LABEL_MODELS, make_label_model, register_label_model

    monkeypatch.setitem(LABEL_MODELS, "share", None)
    with pytest.raises(ConfigError, match=r"class .*_OnlyProba\) has no predict, score.*subclass "
                                          r"polarlab.labelmodels.LabelModelBase") as e:
        register_label_model("share", _OnlyProba)
    assert e.value.column == "labelmodel.methods"
    LABEL_MODELS["share"] = lambda n_classes: _OnlyProba(n_classes)         # by hand: checked when built
    with pytest.raises(ConfigError, match="has no predict, score"):
        make_label_model("share", 2)
    p = make_project(tmp_path)
    p.write_text(p.read_text().replace('methods = ["mv"]', 'methods = ["mv", "share"]'))
    with pytest.raises(ConfigError, match="has no predict, score") as e:
        run(load_project(p), progress=False)
    assert e.value.column == "labelmodel.methods" and not (tmp_path / "out").exists()

    class Share(_OnlyProba, LabelModelBase):       # its own fit and predict_proba first
        pass

    register_label_model("share", Share)
    L = np.array([[0, 0, 1], [1, 1, -1], [0, 1, -1], [-1, -1, -1]])
    model = make_label_model("share", 2).fit(L)
    np.testing.assert_array_equal(model.predict(L), model.predict_proba(L).argmax(1))
    gold = np.array([0, 1, 1, -1])
    want = float((model.predict(L)[:2] == gold[:2]).mean())       # rows 2 and 3 tie: left out, as Snorkel does
    assert model.score(L, gold) == {"accuracy": want}
    result = run(load_project(p), progress=False)
    assert "share" in result.probas
