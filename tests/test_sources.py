"""Every source type on real datasets: votes, options, errors and describe() sentences."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from polarlab import (ABSTAIN, ConfigError, DictionarySource, KeywordSource, RegexSource, SourceError, Task,
                      VoteColumn, apply_sources, from_pandas, from_snorkel, labeling_function, load_csv)
from polarlab.data import load_wrench
from polarlab.sources import LabelingFunction, SnorkelSource, WeakLabelColumn, read_terms, weak_label_sources
from polarlab.sources.config import sources_from_config

TASK = Task(labels=("ham", "spam"), name="spam")
HAM, SPAM = 0, 1
YOUTUBE = Path(__file__).resolve().parents[2] / "shared" / "data" / "youtube"


def data(*texts: str, **meta) -> "object":
    return from_pandas(pd.DataFrame({"text": list(texts), **meta}), TASK)


def votes(src, ds, task: Task = TASK) -> list[int]:
    return src.apply(ds, task).votes.tolist()


# --------------------------------------------------------------------------- @labeling_function

def test_labeling_function_plain_and_names() -> None:
    @labeling_function()
    def has_link(x):
        """Spam comments post links."""
        return SPAM if "http" in x.text else ABSTAIN

    @labeling_function(name="says_song")
    def song(x):
        return "ham" if "song" in x.text else None  # label names and None are accepted

    assert isinstance(has_link, LabelingFunction) and has_link.name == "has_link" and song.name == "says_song"
    ds = data("see http://x.io", "nice song", "meh")
    assert votes(has_link, ds) == [SPAM, -1, -1]
    assert votes(song, ds) == [-1, HAM, -1]
    assert has_link(ds.example(0)) == SPAM  # still callable on one example


def test_labeling_function_resources_pre_and_metadata() -> None:
    def lower(x):
        x.lowered = x.text.lower()  # preprocessors may add attributes
        return x

    def strip_punct(x):
        x.lowered = re.sub(r"[^\w\s]", "", x.lowered)
        return x

    @labeling_function(resources={"spammers": {"bot42"}, "words": ("free", "win")}, pre=[lower, strip_punct])
    def rule(x, spammers, words):
        if x.author in spammers:  # metadata column read as an attribute
            return SPAM
        if x.likes > 100:
            return HAM
        return SPAM if any(w in x.lowered.split() for w in words) else ABSTAIN

    ds = data("WIN! a prize", "hello", "lovely", "ok", author=["ann", "bot42", "joe", "kim"], likes=[0, 0, 500, 3])
    assert votes(rule, ds) == [SPAM, SPAM, HAM, -1]
    with pytest.raises(AttributeError):
        _ = ds.example(0).not_a_column


def test_labeling_function_bad_return_value_is_source_error() -> None:
    @labeling_function()
    def weird(x):
        return 3 if x.text == "b" else ABSTAIN

    with pytest.raises(SourceError) as ei:
        weird.apply(data("a", "b"), TASK)
    msg = str(ei.value)
    assert __file__ in msg and "row 1" in msg and "column 'weird'" in msg and "returned 3" in msg
    assert "Fix:" in msg and "'1'" in msg  # the example id


# --------------------------------------------------------------------------- keyword

def test_keyword_whole_word_case_phrases() -> None:
    ds = data("Please SUBSCRIBE now", "subscriber count", "sub4sub", "I love this  song", "check out my channel",
              "my channels", "Sub!")
    kw = KeywordSource(name="kw", keywords=["subscribe", "sub", "my channel"], label="spam")
    assert votes(kw, ds) == [SPAM, -1, -1, -1, SPAM, -1, SPAM]
    case = KeywordSource(name="kw_case", keywords=["Sub"], label=SPAM, ignore_case=False)
    assert votes(case, ds) == [-1, -1, -1, -1, -1, -1, SPAM]
    part = KeywordSource(name="kw_part", keywords=["sub"], label=SPAM, whole_word=False)
    assert votes(part, ds) == [SPAM, SPAM, SPAM, -1, -1, -1, SPAM]
    phrase = KeywordSource(name="kw_phrase", keywords="love this song", label="ham")  # a bare string is one keyword
    assert votes(phrase, ds) == [-1] * 7  # two spaces: phrases match literally


def test_keyword_special_characters_and_unicode() -> None:
    ds = data("I write c++ daily", "c++", "(c++)", "abc++", "C# and .NET", "über cool", "hello $5.99 deal",
              "a+b")
    assert votes(KeywordSource(name="cpp", keywords=["c++"], label=HAM), ds) == [HAM, HAM, HAM, -1, -1, -1, -1, -1]
    assert votes(KeywordSource(name="net", keywords=[".net", "c#"], label=HAM), ds)[4] == HAM
    assert votes(KeywordSource(name="ber", keywords=["ber"], label=HAM), ds)[5] == -1  # not inside "über"
    assert votes(KeywordSource(name="price", keywords=["$5.99"], label=SPAM), ds) == [-1] * 6 + [SPAM, -1]
    assert votes(KeywordSource(name="plus", keywords=["a+b"], label=SPAM), ds) == [-1] * 7 + [SPAM]
    with pytest.raises(ConfigError) as ei:
        KeywordSource(name="empty", keywords=["", ""], label=SPAM)
    assert "key 'empty'" in str(ei.value) and "Fix:" in str(ei.value)


def test_keyword_other_column_and_bad_label() -> None:
    ds = data("x", "y", title=["FREE stuff", "hi"])
    assert votes(KeywordSource(name="t", keywords=["free"], label="spam", column="title"), ds) == [SPAM, -1]
    with pytest.raises(ConfigError) as ei:
        KeywordSource(name="bad", keywords=["x"], label="eggs").apply(ds, TASK)
    assert "'eggs'" in str(ei.value) and "key 'bad'" in str(ei.value)


# --------------------------------------------------------------------------- regex

def test_regex_re2_path() -> None:
    pattern = r"https?://\S+|www\.\w+"
    pc.match_substring_regex(pa.array(["x"]), pattern)  # RE2 accepts it: the vectorised path runs
    ds = data("visit https://spam.io now", "WWW.Example.com", "no link", "http:/broken")
    assert votes(RegexSource(name="link", pattern=pattern, label="spam"), ds) == [SPAM, SPAM, -1, -1]
    assert votes(RegexSource(name="link_cs", pattern=pattern, label="spam", ignore_case=False), ds) == [SPAM, -1, -1, -1]


def test_regex_python_fallback_for_lookbehind() -> None:
    pattern = r"(?<=\$)\d+"
    with pytest.raises(pa.ArrowInvalid):  # RE2 rejects look-behind, so this exercises the fallback
        pc.match_substring_regex(pa.array(["x"]), pattern)
    ds = data("only $20 today", "20 dollars", "$ 5", "$5 and $6")
    assert votes(RegexSource(name="price", pattern=pattern, label=SPAM), ds) == [SPAM, -1, -1, SPAM]
    back = RegexSource(name="rep", pattern=r"\b(\w)\1\1\b", label=SPAM, ignore_case=False)  # back-reference
    assert votes(back, data("aaa", "AAA aAa", "abc")) == [SPAM, SPAM, -1]
    back_i = RegexSource(name="rep_i", pattern=r"\b(\w)\1\1\b", label=SPAM)
    assert votes(back_i, data("aAa", "abc")) == [SPAM, -1]


def test_regex_invalid_pattern() -> None:
    with pytest.raises(ConfigError) as ei:
        RegexSource(name="broken", pattern="(unclosed", label=SPAM)
    msg = str(ei.value)
    assert "key 'broken'" in msg and "(unclosed" in msg and "Fix:" in msg


# --------------------------------------------------------------------------- dictionary

def test_dictionary_term_list_whole_word() -> None:
    src = DictionarySource.from_list("drugs", ["aspirin", "ibuprofen", "vitamin c"], "spam")
    ds = data("Aspirin helps", "aspirins are pills", "take Vitamin C daily", "vitamin cc", "none here")
    assert votes(src, ds) == [SPAM, -1, SPAM, -1, -1]
    loose = DictionarySource.from_list("loose", ["aspirin"], SPAM, whole_word=False, ignore_case=False)
    assert votes(loose, ds) == [-1, SPAM, -1, -1, -1]


def test_dictionary_file_with_labels_tie_and_counts(tmp_path: Path) -> None:
    f = tmp_path / "terms.tsv"
    f.write_text("# term<TAB>label\nfree\tspam\ngift card\tspam\n\ngreat song\tham\nlove\tham\nwinner\n",
                 encoding="utf-8")
    assert read_terms(f, "spam") == {"free": "spam", "gift card": "spam", "great song": "ham", "love": "ham",
                                     "winner": "spam"}
    with pytest.raises(ConfigError) as ei:  # the bare term "winner" needs a default label
        read_terms(f)
    assert str(ei.value).startswith(f"file {f}, line 7: term without a label. Fix:")
    src = DictionarySource.from_file("terms", f, label="spam")
    ds = data(
        "free gift card!",                 # spam 2
        "great song, love it",             # ham 2
        "free love",                       # spam 1, ham 1 -> tie -> abstain
        "love this, free gift card",       # spam 2, ham 1 -> spam
        "love love free",                  # ham 2 (each occurrence counts), spam 1 -> ham
        "freedom, lovely",                 # whole words only -> nothing
        "WINNER",
    )
    assert votes(src, ds) == [SPAM, HAM, -1, SPAM, HAM, -1, SPAM]
    csv_terms = tmp_path / "t.csv"
    csv_terms.write_text("free,spam\nhello,ham\n", encoding="utf-8")
    assert read_terms(csv_terms) == {"free": "spam", "hello": "ham"}
    with pytest.raises(ConfigError):
        read_terms(tmp_path / "missing.tsv")
    with pytest.raises(ConfigError):
        DictionarySource(name="empty", terms={})


# --------------------------------------------------------------------------- precomputed votes

def test_vote_column_names_ints_blanks(tmp_path: Path) -> None:
    p = tmp_path / "d.csv"
    p.write_text("text,crowd\na,spam\nb,0\nc,\nd,-1\ne,1\nf,ham\n", encoding="utf-8")
    ds = load_csv(p, TASK)
    assert votes(VoteColumn(name="crowd", column="crowd"), ds) == [SPAM, HAM, -1, -1, SPAM, HAM]
    frame_ds = data("a", "b", "c", "d", v=[1, None, 0, np.nan])
    assert votes(VoteColumn(name="v", column="v"), frame_ds) == [SPAM, -1, HAM, -1]
    ints = data("a", "b", v=[1, -1])
    assert votes(VoteColumn(name="v", column="v"), ints) == [SPAM, -1]
    bad = tmp_path / "bad.csv"
    bad.write_text("text,crowd\na,spam\nb,maybe\n", encoding="utf-8")
    with pytest.raises(SourceError) as ei:
        VoteColumn(name="crowd", column="crowd").apply(load_csv(bad, TASK), TASK)
    msg = str(ei.value)
    assert str(bad) in msg and "row 1" in msg and "'maybe'" in msg and "Fix:" in msg
    with pytest.raises(Exception) as ei:
        VoteColumn(name="x", column="nope").apply(ds, TASK)
    assert "column 'nope'" in str(ei.value)


def test_wrench_weak_label_columns(tmp_path: Path) -> None:
    if not YOUTUBE.is_dir():
        pytest.skip(f"WRENCH youtube not at {YOUTUBE}")
    task = Task(labels=("ham", "spam"), name="youtube")
    test = load_wrench(YOUTUBE, task)["test"]
    srcs = weak_label_sources(test)
    assert [s.name for s in srcs][:3] == ["keyword_my", "keyword_subscribe", "keyword_link"] and len(srcs) == 10
    lm = apply_sources(test, srcs, task, progress=False)
    np.testing.assert_array_equal(lm.L, test.weak_labels)
    picked = sources_from_config([{"type": "wrench", "names": ["short_comment"]}, {"type": "wrench", "indices": [0]}],
                                 base_dir=tmp_path, state_dir=tmp_path, sample=test)
    assert [s.name for s in picked] == ["short_comment", "keyword_my"]
    np.testing.assert_array_equal(picked[0].apply(test, task).votes, test.weak_labels[:, 6])
    with pytest.raises(ConfigError) as ei:
        sources_from_config([{"type": "wrench", "names": ["nope"]}], base_dir=tmp_path, state_dir=tmp_path,
                            sample=test, file="p.toml")
    assert "p.toml" in str(ei.value) and "'nope'" in str(ei.value) and "keyword_my" in str(ei.value)


# --------------------------------------------------------------------------- Snorkel LFs unchanged

def test_snorkel_lfs_unchanged_match_pandas_applier() -> None:
    from snorkel.labeling import PandasLFApplier
    from snorkel.labeling import labeling_function as snorkel_lf
    from snorkel.preprocess import preprocessor

    @preprocessor(memoize=True)
    def add_words(x):
        x.words = x.text.lower().split()
        return x

    @snorkel_lf(pre=[add_words])
    def many_words(x):
        """Long comments are spam."""
        return SPAM if len(x.words) > 4 else ABSTAIN

    @snorkel_lf(resources={"bad": ["free", "winner"]})
    def bad_words(x, bad):
        return SPAM if any(b in x.text.lower() for b in bad) else ABSTAIN

    @snorkel_lf()
    def by_author(x):
        return HAM if x.author == "ann" else ABSTAIN

    lfs = [many_words, bad_words, by_author]
    ds = data("free stuff", "one two three four five six", "hi there", "you are a WINNER today my friend",
              author=["joe", "ann", "kim", "ann"])
    lm = apply_sources(ds, from_snorkel(lfs), TASK, progress=False)
    expected = PandasLFApplier(lfs).apply(ds.frame, progress_bar=False)
    np.testing.assert_array_equal(lm.L, expected)
    assert lm.L.tolist() == [[-1, SPAM, -1], [SPAM, -1, HAM], [-1, -1, -1], [SPAM, SPAM, HAM]]
    assert lm.names == ["many_words", "bad_words", "by_author"]
    assert isinstance(from_snorkel(lfs)[0], SnorkelSource)
    assert SnorkelSource(many_words).describe(TASK, SPAM) == "Rule 'many_words' says spam: Long comments are spam."


# --------------------------------------------------------------------------- describe()

def test_describe_sentences(tmp_path: Path) -> None:
    @labeling_function()
    def short(x):
        """Ham comments are short.

        More text that is not shown."""
        return HAM

    @labeling_function(explain="It says so.")
    def explained(x):
        return HAM

    @labeling_function()
    def nodoc(x):
        return HAM

    assert short.describe(TASK, HAM) == "Rule 'short' says ham: Ham comments are short."
    assert explained.describe(TASK, HAM) == "Rule 'explained' says ham: It says so."
    assert nodoc.describe(TASK, HAM) == "Rule 'nodoc' says ham."
    kw = KeywordSource(name="kw", keywords=["subscribe", "sub"], label="spam")
    assert kw.describe(TASK, SPAM) == "Rule 'kw': the text contains 'subscribe', 'sub', which suggests spam."
    many = KeywordSource(name="many", keywords=[f"w{i}" for i in range(10)], label="spam")
    assert many.describe(TASK, SPAM).endswith("'w7' …, which suggests spam.")
    rx = RegexSource(name="link", pattern=r"https?://", label="spam")
    assert rx.describe(TASK, SPAM) == "Rule 'link': the text matches the pattern /https?:///, which suggests spam."
    d = DictionarySource(name="terms", terms={"free": "spam", "love": "ham", "win": 1})
    assert d.describe(TASK, SPAM) == ("Dictionary 'terms': the text mentions terms listed under spam "
                                      "(such as 'free', 'win').")
    assert VoteColumn(name="crowd", column="c").describe(TASK, HAM) == "Precomputed source 'crowd' says ham."
    assert WeakLabelColumn(name="lf_a", index=0).describe(TASK, SPAM) == "Labeling function 'lf_a' says spam."
    assert KeywordSource(name="k", keywords=["x"], label=1, explain="Because.").describe(TASK, SPAM) == "Because."


# --------------------------------------------------------------------------- from the project file

def test_sources_from_config_every_type(tmp_path: Path) -> None:
    (tmp_path / "terms.tsv").write_text("free\tspam\nlove\tham\n", encoding="utf-8")
    (tmp_path / "lfs.py").write_text(
        "from polarlab import labeling_function, ABSTAIN\n"
        "from snorkel.labeling import labeling_function as slf\n"
        "@labeling_function()\ndef long_text(x):\n    return 1 if len(x.text) > 12 else ABSTAIN\n"
        "@slf()\ndef snork(x):\n    return 0 if 'hi' in x.text else -1\n"
        "def helper(x):\n    return 1\n", encoding="utf-8")
    tables = [
        {"type": "keyword", "name": "kw", "keywords": ["win"], "label": "spam", "whole_word": True},
        {"type": "regex", "name": "rx", "pattern": r"\d+", "label": 1, "ignore_case": False},
        {"type": "dictionary", "name": "dfile", "file": "terms.tsv"},
        {"type": "dictionary", "name": "dlist", "terms": ["hi"], "label": "ham"},
        {"type": "dictionary", "name": "dmap", "terms": {"free": "spam"}},
        {"type": "python", "file": "lfs.py"},
        {"type": "votes", "name": "crowd", "column": "crowd"},
    ]
    srcs = sources_from_config(tables, base_dir=tmp_path, state_dir=tmp_path / ".state")
    assert [s.name for s in srcs] == ["kw", "rx", "dfile", "dlist", "dmap", "long_text", "snork", "crowd"]
    ds = data("win 100 free", "hi love", "a long text indeed", crowd=["spam", "", "ham"])
    lm = apply_sources(ds, srcs, TASK, progress=False)
    assert lm.L.tolist() == [
        # kw  rx  dfile dlist dmap long snork crowd
        [1, 1, 1, -1, 1, -1, -1, 1],
        [-1, -1, 0, 0, -1, -1, 0, -1],
        [-1, -1, -1, -1, -1, 1, -1, 0],
    ]
    only = sources_from_config([{"type": "python", "file": "lfs.py", "names": ["snork"]}], base_dir=tmp_path,
                               state_dir=tmp_path)
    assert [s.name for s in only] == ["snork"]


@pytest.mark.parametrize("table, needle", [
    ({"type": "keyword", "name": "k", "label": "spam"}, "sources[0].keywords': required key is missing"),
    ({"type": "keyword", "name": "k", "keywords": ["a"], "label": "spam", "colour": 1}, "unknown key 'colour'. Fix: did you mean 'column'?"),
    ({"type": "dictionary", "name": "d"}, "exactly one of 'terms' or 'file'"),
    ({"type": "dictionary", "name": "d", "terms": ["a"]}, "needs a 'label'"),
    ({"type": "python", "file": "nope.py"}, "not found"),
    ({"type": "wrench"}, "no precomputed weak_labels"),
    ({"type": "regex", "name": "r", "pattern": "(", "label": 1}, "invalid regex"),
])
def test_sources_from_config_errors(tmp_path: Path, table: dict, needle: str) -> None:
    with pytest.raises(ConfigError) as ei:
        sources_from_config([table], base_dir=tmp_path, state_dir=tmp_path, file="proj.toml")
    msg = str(ei.value)
    assert needle in msg and "Fix:" in msg
    assert "proj.toml" in msg or "nope.py" in msg


def test_python_source_file_that_raises_or_is_empty(tmp_path: Path) -> None:
    (tmp_path / "boom.py").write_text("raise RuntimeError('bad import')\n", encoding="utf-8")
    (tmp_path / "empty.py").write_text("x = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as ei:
        sources_from_config([{"type": "python", "file": "boom.py"}], base_dir=tmp_path, state_dir=tmp_path)
    assert "boom.py" in str(ei.value) and "RuntimeError: bad import" in str(ei.value)
    with pytest.raises(ConfigError) as ei:
        sources_from_config([{"type": "python", "file": "empty.py"}], base_dir=tmp_path, state_dir=tmp_path)
    assert "no labeling functions found" in str(ei.value)
