"""PubTator reading: documents, mention spans, composite ids, and malformed input."""
from __future__ import annotations

import pytest

from polarlab.data.pubtator import is_relation_line, read_pubtator, split_ids
from polarlab.errors import DataError

DOC = ("100|t|Wilson disease in dogs.\n"
       "100|a|Copper toxicosis (CT) and breast cancer.\n"
       "100\t0\t14\tWilson disease\tSpecificDisease\tD006527\n"
       "100\t24\t40\tCopper toxicosis\tSpecificDisease\tOMIM:215600\n"
       "100\t42\t44\tCT\tSpecificDisease\tOMIM:215600\n"
       "100\t50\t63\tbreast cancer\tSpecificDisease\tD001943|D010051\n"
       "100\tCID\tD1\tD2\n"
       "\n"
       "200|t|No mentions here.\n"
       "200|a|\n")


def test_read_documents_and_mentions(tmp_path):
    p = tmp_path / "c.txt"
    p.write_text(DOC, encoding="utf-8")
    docs = read_pubtator(p)
    assert [d.id for d in docs] == ["100", "200"]
    d = docs[0]
    assert d.text == "Wilson disease in dogs. Copper toxicosis (CT) and breast cancer."
    for start, end, text, type_, ids in d.mentions:
        assert d.text[start:end] == text
    assert d.mentions[3].ids == ("D001943", "D010051")
    assert docs[1].mentions == []


def test_split_ids():
    assert split_ids("D1+D2") == ("D1", "D2")
    assert split_ids("-1") == ("-1",)          # a mention without a concept (BC5CDR): gold that maps to nothing
    assert split_ids("D1|-1") == ("D1",) and split_ids("") == ()


@pytest.mark.parametrize("line, match", [
    ("100\t50\t99\tbreast cancer\tSpecificDisease\tD001943\n", "outside the text"),
    ("100\t0\t6\tBreast\tSpecificDisease\tD001943\n", "reads 'Wilson'"),
    ("100\tx\t6\tBreast\tSpecificDisease\tD001943\n", "not integers"),
    ("100\t12a\t20\tBreast\tSpecificDisease\tD001943\n", "not integers"),
    ("100\tcid\tD1\tD2\tNovel\n", "not integers"),    # not a relation type (lower case): a bad mention line
    ("100\t0\n", "columns"),
    ("999\t0\t6\tWilson\tSpecificDisease\tD1\n", "outside that document"),
])
def test_bad_mention_lines_name_the_line(tmp_path, line, match):
    p = tmp_path / "bad.txt"
    p.write_text(DOC.split("\n\n")[0] + "\n" + line, encoding="utf-8")
    with pytest.raises(DataError, match=match) as e:
        read_pubtator(p)
    msg = str(e.value)      # the file and line plainly, as the CSV loader writes them (no "row 'line 8'")
    assert msg.startswith(f"file {p}, line 8: ") and "row" not in msg and "Fix" in msg and "\n" not in msg


def test_relation_lines_with_more_columns_are_skipped(tmp_path):
    """BC5CDR's 4-column relation lines and longer ones (BioRED's novelty column, more) are relations, not
    malformed mentions; the mentions around them are read."""
    extra = ("100\tAssociation\tD006527\t5743\tNovel\n"
             "100\tPositive_Correlation\tD1\tD2\tNo\tnote\n")
    p = tmp_path / "c.txt"
    p.write_text(DOC.replace("100\tCID\tD1\tD2\n", "100\tCID\tD1\tD2\n" + extra), encoding="utf-8")
    docs = read_pubtator(p)
    assert [len(d.mentions) for d in docs] == [4, 0]
    assert [m.text for m in docs[0].mentions] == ["Wilson disease", "Copper toxicosis", "CT", "breast cancer"]
    assert is_relation_line("100\tCID\tD1\tD2".split("\t"))
    assert not is_relation_line("100\t0\t6\tWilson\tDisease\tD1".split("\t"))
