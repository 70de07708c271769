"""Held-out readiness: the WRENCH layouts other WRENCH datasets have (tests/fixtures/wrench, made by its
make_fixtures.py) load, run through ``bench wrench`` / ``polarlab run`` / the label-quality and review-curve
benchmarks with the defaults, and bad input fails with one clear error."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from polarlab.bench import BenchConfig, bench_wrench
from polarlab.cli.main import app
from polarlab.data import load_wrench, wrench_task
from polarlab.errors import ConfigError, DataError, InputError
from polarlab.metrics import classification_metrics, metric_for

from benchmark_loader import load_benchmark

FIX = Path(__file__).resolve().parent / "fixtures" / "wrench"


def _bench_module(name: str):
    return load_benchmark(name, f"_heldout_{name}")


def _copy(name: str, tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIX / name, tmp_path / name))


# ---- loading ----------------------------------------------------------------------------------------------

def test_label_json_with_sparse_or_inverted_keys_is_remapped() -> None:
    sparse, inverted = load_wrench(FIX / "label_keys"), load_wrench(FIX / "label_inverted")
    assert wrench_task(FIX / "label_keys").labels == wrench_task(FIX / "label_inverted").labels == ("ham", "spam")
    raw = json.loads((FIX / "label_keys" / "train.json").read_text())
    assert any(r["label"] == 3 for r in raw.values())          # the file really uses id 3
    for s in ("train", "valid", "test"):
        assert sparse[s].gold.tolist() == inverted[s].gold.tolist()
        assert np.array_equal(sparse[s].weak_labels, inverted[s].weak_labels)
        assert set(np.unique(sparse[s].weak_labels)) <= {-1, 0, 1}


def test_label_json_errors_name_the_file_and_row(tmp_path: Path) -> None:
    d = _copy("label_keys", tmp_path)
    (d / "label.json").write_text(json.dumps({"a": "ham", "b": "spam"}))
    with pytest.raises(DataError, match="label.json.*not integer class ids"):
        wrench_task(d)
    (d / "label.json").write_text(json.dumps({"0": "ham", "2": "spam"}))     # the files use 3, not 2
    with pytest.raises(DataError, match=r"train.json, row \d+, column '(label|weak_labels)': class id 3 is not in label.json"):
        load_wrench(d)


def test_wrong_number_of_weak_labels_names_file_and_row() -> None:
    with pytest.raises(DataError) as e:
        load_wrench(FIX / "bad_width")
    assert isinstance(e.value, InputError)
    assert e.value.file.endswith("test.json") and e.value.row == "7" and e.value.column == "weak_labels"


def test_relation_spans_as_token_offsets_or_missing_become_character_spans() -> None:
    tok, none = load_wrench(FIX / "relation_tokspan")["test"], load_wrench(FIX / "relation_nospan")["test"]
    raw = json.loads((FIX / "relation_tokspan" / "test.json").read_text())
    assert any(r["data"]["text"][slice(*r["data"]["span1"])] != r["data"]["entity1"] for r in raw.values())
    for ds in (tok, none):
        f = ds.frame
        for text, e1, e2, s1, s2 in zip(f["text"], f["entity1"], f["entity2"], f["span1"], f["span2"]):
            assert text[s1[0]:s1[1]].lower() == e1.lower() and text[s2[0]:s2[1]].lower() == e2.lower()


def test_relation_row_without_an_entity_is_refused(tmp_path: Path) -> None:
    d = _copy("relation_nospan", tmp_path)
    rows = json.loads((d / "valid.json").read_text())
    del rows["3"]["data"]["entity2"]
    (d / "valid.json").write_text(json.dumps(rows))
    with pytest.raises(DataError, match=r"valid.json, row 3, column 'data.entity2': relation example without entity2"):
        load_wrench(d)


# ---- the metric -------------------------------------------------------------------------------------------

def test_metric_rule_and_override() -> None:
    y, p = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    assert metric_for("Spouse") == "f1_binary" and metric_for("spouse_copy") == "acc"
    assert metric_for("spouse_copy", "f1_binary") == "f1_binary" and metric_for("census", "acc") == "acc"
    forced = classification_metrics(y, p, "my_binary_set", metric="f1_binary")
    assert forced["wrench_metric_name"] == "f1_binary" and forced["wrench_metric"] == pytest.approx(0.8)
    assert classification_metrics(y, p, "my_binary_set")["wrench_metric"] == pytest.approx(0.75)
    with pytest.raises(InputError, match="needs 2 classes"):
        classification_metrics(np.array([0, 1, 2]), np.array([0, 1, 2]), metric="f1_binary")
    with pytest.raises(InputError, match="unknown metric"):
        metric_for("sms", "f2")


def test_bench_refuses_f1_on_three_classes_before_fitting() -> None:
    with pytest.raises(ConfigError, match="f1_binary needs 2 classes"):
        bench_wrench(BenchConfig(directory=FIX / "tabular3", llm="none", metric="f1_binary", progress=False))


# ---- the commands, with the defaults ----------------------------------------------------------------------

def test_bench_on_spouse_like_data_without_train_gold(tmp_path: Path) -> None:
    """Train has no gold at all (WRENCH's spouse): the fit never needs it; test is scored by F1 of class 1."""
    assert (load_wrench(FIX / "spouse")["train"].gold == -1).all()
    res = bench_wrench(BenchConfig(directory=FIX / "spouse", llm="none", state_dir=tmp_path, progress=False))
    assert res["fit_split"] == "train" and res["n_fit"] == 70
    assert res["metric"] == {"name": "f1_binary", "from": "wrench_table"}
    for m in ("mv", "snorkel", "dawid_skene", "mv+lr", "polar", "polar_h"):
        s = res["labels"][m]
        assert s["wrench_metric_name"] == "f1_binary" and s["wrench_metric"] == s["f1"]
        assert 0.0 <= s["wrench_metric"] <= 1.0 and s["macro_f1"] is not None


def test_bench_on_tabular_data_has_no_llm_and_standardised_features(tmp_path: Path) -> None:
    """Three-class tabular data (features on scales 1e-3..1e3, a rule that never fires): even with
    ``--llm local`` no LLM source is made (there is no text), and every method is scored."""
    res = bench_wrench(BenchConfig(directory=FIX / "tabular3", llm="local", state_dir=tmp_path, progress=False))
    assert res["risk_of"] == "polar" and "llm" not in res["labels"] and "llm_stats" not in res
    assert res["metric"]["name"] == "acc"
    assert all(0.0 <= v["wrench_metric"] <= 1.0 for v in res["labels"].values())
    X = load_wrench(FIX / "tabular3")["train"].features
    assert X.std(axis=0).max() / X.std(axis=0).min() > 1e5     # the raw scales really differ
    # h(x) on standardised features learns the clusters: well above the majority class
    gold = load_wrench(FIX / "tabular3")["test"].gold
    assert res["labels"]["polar_h"]["accuracy"] > np.bincount(gold).max() / len(gold) + 0.1


def test_run_on_a_project_built_from_a_wrench_dir(tmp_path: Path) -> None:
    """``polarlab run`` on a project of two lines ([data] wrench = DIR, the wrench source) of a class that
    never gets a vote on the fit split and is absent from its gold (it is in test only): it runs, warns
    about the class, and writes labels for every row."""
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "polarlab.toml").write_text(f'[data]\nwrench = "{(FIX / "novote").as_posix()}"\n\n[[sources]]\n'
                                        'type = "wrench"\n\n[output]\ndir = "out"\n')
    splits = load_wrench(FIX / "novote")
    assert not (splits["train"].weak_labels == 2).any() and not (splits["train"].gold == 2).any()
    assert (splits["test"].gold == 2).any() and (splits["train"].weak_labels == -1).all(axis=0).any()
    with pytest.warns(Warning, match=r"class\(es\) \[2\] get no vote"):
        r = CliRunner().invoke(app, ["run", str(proj / "polarlab.toml"), "--no-progress"])
    assert r.exit_code == 0, r.output
    labels = (proj / "out" / "labels.csv").read_text().splitlines()
    assert len(labels) == 1 + sum(len(d) for d in splits.values())


def test_label_quality_records_a_bad_folder_and_runs_the_others(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for n in ("bad_width", "tabular3"):
        shutil.copytree(FIX / n, data / n)
    lq = _bench_module("label_quality")
    out = lq.main(["--data", str(data), "--state-dir", str(tmp_path / "s")])
    assert "row 7" in out["datasets"]["bad_width"]["error"]
    t = out["datasets"]["tabular3"]
    assert t["metric"]["name"] == "acc" and t["wins"]["wrench_metric"]["margin"] is not None


def test_review_curves_on_data_without_train_gold_and_on_tabular_data(tmp_path: Path) -> None:
    """spouse: the items are the first split with gold (valid); an unknown dataset's target is the
    out-of-fold gold LR; tabular items use their numeric features."""
    rc = _bench_module("review_curves")
    out = rc.main(["--data", str(FIX), "--datasets", "spouse,tabular3", "--cache", str(tmp_path / "f"),
                   "--out", str(tmp_path / "o"), "--orders", "polar,random", "--no-audit", "--step", "0.05",
                   "--max-fraction", "0.1"])
    sp, tab = out["spouse"], out["tabular3"]
    assert sp["items_split"] == "valid" and sp["n_items"] == 25 and sp["metric"] == "f1_binary"
    assert tab["items_split"] == "train" and tab["features"] == "numeric" and tab["metric"] == "acc"
    for r in (sp, tab):
        assert r["target_from"] == "gold_lr_out_of_fold" and 0.0 <= r["target"] <= 1.0
        assert len(r["polar"]["curve"]) == 3 and all(0.0 <= q <= 1.0 for _, q in r["polar"]["curve"])
    assert (tmp_path / "o" / "review_curves.png").exists()


def test_review_curves_metric_is_passed_not_kept_in_a_module_global() -> None:
    """``--metric`` reaches the scoring through the functions' ``metric`` argument; the module keeps no choice
    that one run could leave behind for the next."""
    rc = _bench_module("review_curves")
    gold, labels, risk = np.array([0, 0, 0, 0, 1, 1]), np.array([0, 0, 0, 0, 0, 1]), np.linspace(0, 1, 6)
    acc, f1 = (classification_metrics(gold, np.eye(2)[labels], metric=m)["wrench_metric"] for m in ("acc", "f1_binary"))
    assert acc != f1
    assert rc.quality(labels, gold, 2, "sms", metric="acc") == acc
    assert rc.quality(labels, gold, 2, "sms") == f1                 # auto: WRENCH's metric for sms
    assert rc.fixed_only(labels, risk, gold, 2, "sms", [0.0], metric="acc")[0][1] == acc
    assert not hasattr(rc, "METRIC")


def test_an_llm_source_on_tabular_data_is_refused_before_any_call(tmp_path: Path) -> None:
    """No text to show the LLM: one clear error, not thousands of prompts about empty strings."""
    proj = tmp_path / "p"
    proj.mkdir()
    (proj / "polarlab.toml").write_text(
        f'[data]\nwrench = "{(FIX / "tabular3").as_posix()}"\n\n[[sources]]\ntype = "wrench"\n\n[[sources]]\n'
        'type = "llm"\nname = "llm"\nbackend = "openai"\nbase_url = "http://127.0.0.1:9/v1"\nmodel = "m"\n')
    r = CliRunner().invoke(app, ["run", str(proj / "polarlab.toml"), "--no-progress"])
    assert r.exit_code != 0
    assert "reads text" in r.output and "tabular" in r.output


def test_an_empty_text_in_a_benchmark_file_is_kept_with_a_warning(tmp_path: Path, caplog) -> None:
    """A published WRENCH file the user cannot fix: an empty ``data.text`` is an empty example (the sources
    abstain on it), not a DataError that stops the whole dataset; a project's own CSV still refuses it."""
    d = _copy("novote", tmp_path)
    raw = json.loads((d / "train.json").read_text())
    key = next(iter(raw))
    raw[key]["data"]["text"] = "   "
    (d / "train.json").write_text(json.dumps(raw))
    with caplog.at_level("WARNING", logger="polarlab.data.wrench"):
        splits = load_wrench(d)
    assert "1 example(s) with an empty data.text" in caplog.text
    row = splits["train"].frame.index[splits["train"].frame["id"].astype(str) == key][0]
    assert splits["train"].frame.loc[row, "text"] == ""
    assert len(splits["train"]) == len(raw)
    from polarlab.data.loaders import from_pandas
    import pandas as pd
    with pytest.raises(DataError, match="empty text"):
        from_pandas(pd.DataFrame({"text": ["a", " "]}))
