"""The end model's training rows: filtering (no vote / low probability) and augmentation by transformation
functions (labels copied, provenance kept) — unit tests, then ``polarlab endmodel`` on the demo project."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab.endmodel.targets import Targets
from polarlab.endmodel.training import TrainingRows
from polarlab.errors import ConfigError

TFS = '''
from polarlab.augment import transformation_function

@transformation_function()
def shout(x):
    x.text = x.text.upper()
    return x

@transformation_function()
def drop_first_word(x):
    words = x.text.split()
    if len(words) < 3:
        return None
    x.text = " ".join(words[1:])
    return x
'''


def test_select_filters_uncovered_and_unsure_rows_but_keeps_reviewed() -> None:
    L = np.array([[-1, -1], [0, -1], [1, 1], [-1, -1], [1, -1]])
    proba = np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])
    reviewed = np.array([-1, -1, -1, 1, -1])
    ids, texts = [str(i) for i in range(5)], [f"text {i}" for i in range(5)]
    assert TrainingRows().select(ids, texts, L, proba, reviewed).tolist() == [False, True, True, True, True]
    assert TrainingRows(filter_unlabeled=False).select(ids, texts, L, proba, reviewed).all()
    assert TrainingRows(min_proba=0.7).select(ids, texts, L, proba, reviewed).tolist() == [False, True, True, True,
                                                                                         False]
    assert TrainingRows().select(ids, texts, None, proba, reviewed).all()       # no votes: every row counts


def test_augment_rows_copy_targets_and_keep_provenance(tmp_path: Path) -> None:
    (tmp_path / "tfs.py").write_text(TFS, encoding="utf-8")
    ids, texts = ["a", "b", "c"], ["check out my channel", "nice", "love this song a lot"]
    targets = Targets(np.array([[0.1, 0.9], [0.6, 0.4], [0.8, 0.2]]), np.array([0.9, 0.5, 0.7]),
                      np.array([-1, 0, -1]))
    for policy in ("mean_field", "random"):
        rows = TrainingRows(augment=tmp_path / "tfs.py", policy=policy, n_per_original=2, sequence_length=2)
        frame, new = rows.augment_rows(ids, texts, targets)
        assert list(frame.columns) == ["id", "text", "augmented_from", "transforms"] and len(frame) == len(new) > 0
        pos = [ids.index(o) for o in frame["augmented_from"]]
        np.testing.assert_array_equal(new.soft, targets.soft[pos])
        np.testing.assert_array_equal(new.weight, targets.weight[pos])
        np.testing.assert_array_equal(new.hard, targets.hard[pos])
        assert all(i.startswith(f"{o}~aug") for i, o in zip(frame["id"], frame["augmented_from"]))
        assert set(">".join(frame["transforms"]).split(">")) <= {"shout", "drop_first_word"}
        assert not (frame["text"].isin(texts)).any()                            # every new row was changed
        again, _ = rows.augment_rows(ids, texts, targets)                         # seeded: the same rows
        pd.testing.assert_frame_equal(frame, again)
    both = targets.concat(Targets(np.array([[0.5, 0.5]])))
    assert both.soft.shape == (4, 2) and both.weight[-1] == 1.0 and both.hard[-1] == -1


def test_bad_training_options_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown augmentation policy"):
        TrainingRows(policy="greedy")
    with pytest.raises(ConfigError, match="outside"):
        TrainingRows(min_proba=1.5)
    with pytest.raises(ConfigError, match="not found"):
        TrainingRows(augment=tmp_path / "missing.py")
    (tmp_path / "empty.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="no transformation function"):
        TrainingRows(augment=tmp_path / "empty.py")


def test_cli_endmodel_augment_and_filter(tmp_path: Path) -> None:
    from test_outputs_cli import demo_project, ok, runner

    from polarlab.cli import main as cli
    from polarlab.export.project import load_project_labels
    from polarlab.project import load_project

    p = demo_project(tmp_path)
    (tmp_path / "tfs.py").write_text(TFS, encoding="utf-8")
    r = runner.invoke(cli.app, ["endmodel", str(p), "--augment", str(tmp_path / "tfs.py"), "--policy", "greedy"])
    assert r.exit_code == 2 and "unknown augmentation policy" in r.stderr          # before the project runs
    ok(["run", str(p), "--no-progress"])
    labels = load_project_labels(load_project(p))
    train = labels.rows("train")
    voted = (labels.data.votes.L[train] >= 0).any(axis=1)
    meta_file = p.parent / "out" / "endmodel" / "endmodel.json"

    def trained_on(args: list[str]) -> tuple[dict, str]:
        text = ok(["endmodel", str(p), *args])
        return json.loads(meta_file.read_text(encoding="utf-8"))["trained_on"], text

    t, _ = trained_on([])
    assert t["rows"] == voted.sum() and t["pool"] == len(train) - voted.sum() and "augmented" not in t
    t, _ = trained_on(["--keep-unlabeled"])
    assert t["rows"] == len(train) and t["pool"] == 0
    t, _ = trained_on(["--min-proba", "0.9"])
    assert t["rows"] == (voted & (labels.data.proba[train].max(axis=1) >= 0.9)).sum()
    t, text = trained_on(["--augment", str(tmp_path / "tfs.py"), "--policy", "random", "--n-per-original", "1",
                          "--sequence-length", "1"])
    assert t["rows"] == voted.sum() and "augmented: +" in text
    aug = pd.read_csv(p.parent / "out" / "endmodel" / "augmented.csv", keep_default_na=False)
    assert t["augmented"]["rows"] == len(aug) > 0 and t["augmented"]["policy"] == "random"
    trained_ids = {labels.data.ids[i] for i in train[voted]}
    assert set(aug["augmented_from"]) <= trained_ids and len(aug) <= len(trained_ids)   # 1 per original at most
    t, _ = trained_on([])                                  # back to plain: the stale provenance file goes
    assert "augmented" not in t and not (p.parent / "out" / "endmodel" / "augmented.csv").exists()
