"""Small text helpers shared by the prompt builders of every task kind."""
from __future__ import annotations


def one_line(text: object) -> str:
    """``text`` (any object, through ``str``) with every run of whitespace, newlines included, collapsed to one
    space and the ends stripped, so an input cannot fake prompt structure with line breaks."""
    return " ".join(str(text).split())
