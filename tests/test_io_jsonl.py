"""The one JSONL reader behind every user-facing JSON-lines file (data, unlabelled texts, spans, BEIR)."""
from __future__ import annotations

import pytest

from polarlab.errors import DataError
from polarlab.io.jsonl import json_objects


def test_objects_come_with_their_line_numbers_blank_lines_and_a_bom_skipped(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_bytes(b"\xef\xbb\xbf" + '{"id": 1}\n\n  \n{"id": 2, "text": "a\u2028b"}\r\n'.encode("utf-8"))
    assert list(json_objects(p, fix="-")) == [(1, {"id": 1}), (4, {"id": 2, "text": "a\u2028b"})]


@pytest.mark.parametrize("content, line, what", [
    (b'{"id": 1}\n{"id": \n', 2, "invalid JSON"),
    (b'{"id": 1}\n[1, 2]\n', 2, "a JSON list, not an object"),
])
def test_a_bad_line_is_one_error_naming_the_file_line_and_fix(tmp_path, content, line, what):
    p = tmp_path / "bad.jsonl"
    p.write_bytes(content)
    with pytest.raises(DataError, match="one object per line") as e:
        list(json_objects(p, fix="one object per line"))
    assert what in str(e.value) and e.value.line == line and e.value.file == str(p)


def test_the_hook_gets_the_line_number(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text('{"a": 1}\n{"b": 2}\n', encoding="utf-8")
    assert [row for _, row in json_objects(p, fix="-", object_pairs_hook=lambda n: lambda pairs: {"line": n})] \
        == [{"line": 1}, {"line": 2}]


def test_bytes_that_are_not_utf8_name_their_line_and_how_to_re_save(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes(b'{"id": 1}\n\n{"text": "caf\xe9"}\n')
    with pytest.raises(DataError, match="not UTF-8 \\(byte 0xe9") as e:
        list(json_objects(p, fix="-"))
    assert e.value.line == 3 and "iconv" in str(e.value)
