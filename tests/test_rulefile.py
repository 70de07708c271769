"""Rule files (``pattern->label`` lines, DataSculpt's LLM-written LFs) and the stemmed keyword source."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from polarlab import InputError, Task, apply_sources, from_pandas
from polarlab.sources import MATCHERS, StemmedKeywordSource, Stemmer, read_rule_file

TASK = Task(labels=("ham", "spam"), name="spam")
ROOT = Path(__file__).resolve().parents[1]
DATASCULPT = ROOT.parent / "shared" / "data" / "llm_lf_datasculpt" / "output"

TEXTS = ["Subscribed to your channel!", "Please check out my channel http://x.co", "I can't speak now, don't worry",
         "What a fantastic song", "check this out", "the parties were fun. Worried?", "!!"]


def data(*texts: str):
    return from_pandas(pd.DataFrame({"text": list(texts)}), TASK)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.txt"
    path.write_text(text, encoding="utf-8")
    return path


def test_stemmer_is_datasculpts_preprocessing() -> None:
    s = Stemmer()
    assert s.tokens("I can't speak, CHECK out my channel!! Subscribed.") == \
        ["i", "ca", "speak", "check", "out", "my", "channel", "subscrib"]        # n't and punctuation dropped
    assert s.text("Don't worry. Parties!") == "do worri parti"                  # sentence-final periods split off
    assert s.text("") == ""


def test_reads_rules_skips_duplicates_and_reports_conflicts(tmp_path: Path) -> None:
    path = write(tmp_path, "# LLM-written rules\nsubscrib->1\n\ncheck out -> spam\nworri->0\nsubscrib->1\n"
                           "ca speak->0\nparti->0\nfan->1\nworri->1\n")
    rf = read_rule_file(path, task=TASK)
    assert [s.name for s in rf.sources] == ["subscrib->1", "check out->spam", "worri->0", "ca speak->0",
                                            "parti->0", "fan->1", "worri->1"]
    assert rf.lines == [2, 4, 5, 7, 8, 9, 10]
    assert rf.duplicates == [(6, 2, "subscrib->1")]
    assert rf.conflicts == [(10, 5, "worri->1")]
    assert rf.labels(TASK) == [1, 1, 0, 0, 0, 1, 1]
    assert rf.summary()["rules"] == 7 and rf.summary()["duplicates"] == [[6, 2, "subscrib->1"]]
    assert len({id(s.stemmer) for s in rf.sources}) == 1                       # one shared preprocessing cache
    L = apply_sources(data(*TEXTS), rf.sources, TASK, progress=False, workers=1).L
    expected = np.array([
        [1, -1, -1, -1, -1, -1, -1],      # subscribed -> subscrib
        [-1, 1, -1, -1, -1, -1, -1],      # "check out" as adjacent tokens
        [-1, -1, 0, 0, -1, -1, 1],        # worry -> worri (both the ham and the conflicting spam rule), can't -> ca
        [-1, -1, -1, -1, -1, -1, -1],     # "fan" is not a token of "fantastic"
        [-1, -1, -1, -1, -1, -1, -1],     # "check this out": not the bigram
        [-1, -1, 0, -1, 0, -1, 1],        # parties -> parti, worried -> worri
        [-1, -1, -1, -1, -1, -1, -1],     # no word at all
    ])
    np.testing.assert_array_equal(L, expected)


def test_a_repeat_after_a_conflict_is_a_duplicate_and_a_bom_is_no_part_of_a_rule(tmp_path: Path) -> None:
    path = tmp_path / "rules.txt"
    path.write_bytes("\ufeffworri->0\nworri->1\nworri->1\n".encode("utf-8"))
    rf = read_rule_file(path, task=TASK)
    assert [s.name for s in rf.sources] == ["worri->0", "worri->1"]
    assert rf.conflicts == [(2, 1, "worri->1")] and rf.duplicates == [(3, 1, "worri->1")]
    L = apply_sources(data("don't worry"), rf.sources, TASK, progress=False, workers=1).L
    np.testing.assert_array_equal(L, [[0, 1]])


@pytest.mark.parametrize("content", [b"", b"# only a comment\n\n", b"caf\xe9->1\n"])
def test_an_empty_or_undecodable_file_is_refused(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "rules.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match="no rule|UTF-8") as e:
        read_rule_file(path)
    assert "rules.txt" in str(e.value)


def test_other_matchings(tmp_path: Path) -> None:
    path = write(tmp_path, "fan->1\nhttps?://->1\n")
    ds = data(*TEXTS)
    votes = {m: apply_sources(ds, read_rule_file(path, matching=m).sources, TASK, progress=False, workers=1).L
             for m in ("keyword", "substring", "regex")}
    assert votes["keyword"][3, 0] == -1 and votes["substring"][3, 0] == 1      # "fantastic"
    assert votes["regex"][1, 1] == 1 and votes["keyword"][1, 1] == -1          # a pattern only as a regex
    assert set(MATCHERS) >= {"stemmed", "keyword", "substring", "regex"}


@pytest.mark.parametrize("line, says", [
    ("subscrib=>1", "no '->'"),
    ("->1", "empty pattern"),
    ("subscrib->", "empty label"),
    ("subscrib->-1", "not a class"),
    ("subscrib->2", "is not one of"),
    ("{{A}} married {{B}}->1", "entity placeholders"),
])
def test_bad_line_names_file_and_line(tmp_path: Path, line: str, says: str) -> None:
    path = write(tmp_path, f"check out->1\n# ok so far\n{line}\n")
    with pytest.raises(InputError) as e:
        read_rule_file(path, task=TASK)
    assert e.value.line == 3 and e.value.file == str(path)
    assert f"file {path}" in str(e.value) and "line 3" in str(e.value) and says in str(e.value)
    assert e.value.fix


def test_bad_regex_and_bad_arguments(tmp_path: Path) -> None:
    path = write(tmp_path, "ok->1\n(unclosed->1\n")
    with pytest.raises(InputError, match="line 2"):
        read_rule_file(path, matching="regex")
    with pytest.raises(InputError, match="unknown rule matching"):
        read_rule_file(path, matching="fuzzy")
    with pytest.raises(InputError, match="not found"):
        read_rule_file(tmp_path / "missing.txt")


def test_stemmed_source_can_stem_plain_keywords() -> None:
    ds = data("He subscribes daily", "please help", "pleased")
    plain = StemmedKeywordSource("kw", ["Subscribing", "Please"], "spam", stem_keywords=True)
    assert plain.phrases == ["subscrib", "pleas"]
    assert plain.apply(ds, TASK).votes.tolist() == [1, 1, 1]
    assert StemmedKeywordSource("kw", ["pleas"], 1).apply(ds, TASK).votes.tolist() == [-1, 1, 1]


def test_rules_sharing_a_stemmer_read_each_dataset_once_and_never_mix_datasets_up() -> None:
    stemmer = Stemmer()
    rules = [StemmedKeywordSource(f"r{i}", [k], "spam", stemmer=stemmer)
             for i, k in enumerate(["subscrib", "check out", "ca speak", "worri", "parti", "song"])]
    a, b = data(*TEXTS), data(*reversed(TEXTS))
    first = {name: apply_sources(ds, rules, TASK, progress=False, workers=1).L for name, ds in (("a", a), ("b", b))}
    assert len(stemmer._arrays) == 2                    # one column read (and hashed) per dataset, not per rule
    again = apply_sources(a, rules, TASK, progress=False, workers=1).L
    np.testing.assert_array_equal(again, first["a"])
    np.testing.assert_array_equal(first["b"], first["a"][::-1])
    alone = [StemmedKeywordSource(r.name, r.keywords, r.label) for r in rules]    # each with its own Stemmer
    np.testing.assert_array_equal(apply_sources(b, alone, TASK, progress=False, workers=1).L, first["b"])
    assert first["a"][:, 0].tolist() == [1, -1, -1, -1, -1, -1, -1] and first["a"][:, 1].tolist()[1] == 1


@pytest.mark.skipif(not DATASCULPT.exists(), reason="../shared/data/llm_lf_datasculpt is not beside the repository")
def test_every_datasculpt_rule_fires_on_its_training_split() -> None:
    """DataSculpt built each LF from training examples, so with its matching every rule votes somewhere there."""
    from polarlab.data import load_wrench
    from polarlab.data.wrench import wrench_task

    for dataset in ("youtube", "sms"):
        task = wrench_task(ROOT.parent / "shared" / "data" / dataset)
        train = load_wrench(ROOT.parent / "shared" / "data" / dataset, task)["train"]
        for model in ("gpt-3.5-turbo", "gpt-4-turbo"):
            rf = read_rule_file(DATASCULPT / dataset / f"{model}.txt", task=task)
            L = apply_sources(train, rf.sources, task, progress=False, workers=1).L
            assert len(rf.sources) > 50 and (L >= 0).any(axis=0).all(), (dataset, model)


def test_datasculpt_benchmark_lf_stats_and_diagnosis() -> None:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        spec = importlib.util.spec_from_file_location("datasculpt_lfs", ROOT / "benchmarks" / "datasculpt_lfs.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))
    L = np.array([[1, -1, 0], [1, 1, -1], [-1, -1, -1], [-1, 1, -1]])
    s = mod.lf_stats(L, [1, 1, 0], 2)
    assert s["coverage"] == 0.75 and s["overlap"] == 0.5 and s["conflict"] == 0.25
    assert s["rules_per_class"] == [1, 2] and s["votes_per_class"] == [1, 4]
    assert s["rows_voted_only"] == {"0": 0, "1": 2}
    assert s["mean_votes_per_covered_row"] == pytest.approx(5 / 3, abs=1e-3)

    class H:                                   # a harmonizer stand-in without a combination: no forced variants
        combiner_ = None

    y = np.array([1, 1, 0, 0])
    P = np.array([[0.2, 0.8], [0.1, 0.9], [0.6, 0.4], [0.3, 0.7]])
    d = mod.diagnose(L, np.zeros((4, 2)), y, {"probas": {"polar": P}, "harmonizer": H()}, "youtube")
    assert d["test_rows_with_vote"] == 3 and d["test_rows_without_vote"] == 1
    assert d["by_rows"]["polar"]["acc_with_vote"] == pytest.approx(2 / 3, abs=1e-4)
    assert d["by_rows"]["polar"]["acc_without_vote"] == 1.0
    assert d["by_rows"]["polar"]["all"]["accuracy"] == 0.75 and d["by_rows"]["polar"]["predicted_share"] == [0.25, 0.75]
    assert d["rules_test_accuracy"]["rules_scored"] == 3 and d["gold_share"] == [0.5, 0.5]


def test_rules_source_type_in_a_project_file(tmp_path: Path) -> None:
    from polarlab.sources.config import sources_from_config

    write(tmp_path, "subscrib->spam\nsong->ham\nsubscrib->spam\n")
    built = sources_from_config([{"type": "rules", "file": "rules.txt", "prefix": "llm:"}], base_dir=tmp_path,
                                state_dir=tmp_path)
    assert [s.name for s in built] == ["llm:subscrib->spam", "llm:song->ham"]
    assert apply_sources(data("Subscribing now", "nice songs"), built, TASK, progress=False, workers=1).L.tolist() \
        == [[1, -1], [-1, 0]]
    with pytest.raises(InputError, match="matching"):
        sources_from_config([{"type": "rules", "file": "rules.txt", "matching": "fuzzy"}], base_dir=tmp_path,
                            state_dir=tmp_path)


def test_a_digit_label_is_read_as_the_task_reads_it(tmp_path: Path) -> None:
    """Labels are resolved by Task.label_index (names first): with classes named '1'..'5', '->5' votes class '5'
    (index 4), not index 5; before, the checked name was passed on as an index."""
    stars = Task(labels=("1", "2", "3", "4", "5"), name="stars")
    rf = read_rule_file(write(tmp_path, "great->5\nbad->1\n"), matching="keyword", task=stars)
    assert rf.labels(stars) == [4, 0]
    assert read_rule_file(write(tmp_path, "subscrib->1\n"), task=TASK).labels(TASK) == [1]   # an index otherwise


def test_a_stemmed_rule_that_can_never_fire_is_reported(tmp_path: Path, caplog) -> None:
    rf = read_rule_file(write(tmp_path, "subscrib->1\ne-mail->1\ncheck out->1\n"), task=TASK)
    assert rf.unmatchable == [(2, "e-mail->1")] and len(rf.sources) == 3
    assert "can never fire" in caplog.text
    assert read_rule_file(write(tmp_path, "e-mail->1\n"), matching="keyword").unmatchable == []


def test_the_project_file_matchings_are_the_registry(tmp_path: Path) -> None:
    import typing

    from polarlab.sources.registry import RulesSettings

    assert set(typing.get_args(RulesSettings.model_fields["matching"].annotation)) == set(MATCHERS)


def test_a_rules_table_checks_its_labels_when_built(tmp_path: Path) -> None:
    """In a project file the rules are checked against the task as the sources are built (file and line named),
    not when they are applied."""
    from polarlab.errors import PolarlabError
    from polarlab.sources.config import sources_from_config

    write(tmp_path, "subscrib->1\ncheck out->eggs\n")
    with pytest.raises(PolarlabError, match="eggs") as e:
        sources_from_config([{"type": "rules", "file": "rules.txt"}], base_dir=tmp_path, state_dir=tmp_path, task=TASK)
    assert "line 2" in str(e.value) or getattr(e.value, "line", None) == 2


def test_a_label_that_only_looks_like_a_number_is_a_clear_error(tmp_path: Path) -> None:
    """'²' passes str.isdigit() but int() refuses it: it is an unknown label (file and line), not a ValueError."""
    with pytest.raises(InputError, match="²"):
        read_rule_file(write(tmp_path, "subscrib->²\n"), task=TASK)
