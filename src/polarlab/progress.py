"""Progress bars only where they can be drawn: a terminal (or a notebook).

rich's ``Progress`` draws on standard output; when that is a pipe or a file (``polarlab run p.toml | tee log``,
CI logs) it cannot redraw, and each bar leaves an empty line behind, so a run's output would open with a dozen
blank lines. Every bar in polarlab is made through :func:`progress_bar`, which gives none there.
"""
from __future__ import annotations

from typing import Any


def can_draw() -> bool:
    """Whether rich can draw a live bar on standard output (a terminal, or a Jupyter notebook)."""
    from rich import get_console

    console = get_console()
    return console.is_terminal or console.is_jupyter


def progress_bar(show: bool, *columns: Any, **options: Any):
    """A rich ``Progress(*columns, **options)``, or None when ``show`` is False or the bar cannot be drawn
    (:func:`can_draw`): piped output then gets no bar and no blank lines."""
    if not show or not can_draw():
        return None
    from rich.progress import Progress

    return Progress(*columns, **options)
