"""CLI commands for a project's outputs: ``predict``, ``export``, ``import``, ``report``, ``endmodel``.

Registered in :mod:`polarlab.cli.main` with ``register(app)``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def predict(model: Path = typer.Argument(..., help="a saved end model directory"),
            data: Path = typer.Argument(..., help="CSV / JSONL / Parquet file with a text column"),
            out: Optional[Path] = typer.Option(None, "--out", help="write predictions here (.csv/.jsonl/.parquet); "
                                                                   "default: print the first rows"),
            text_column: Optional[str] = typer.Option(None, help="text column (default: the task's, else 'text')"),
            id_column: Optional[str] = typer.Option(None, help="id column (default: the row number)"),
            batch_size: int = typer.Option(1024, help="rows per batch"),
            progress: bool = typer.Option(True, help="show a progress bar")) -> None:
    """Label new data with a saved end model: id, label, probability and p_<label> per class."""
    from ..endmodel import load_end_model, predict_file
    from ..errors import PolarlabError
    from .main import _fail, console

    try:
        m = load_end_model(model)
        frame, path = predict_file(m, data, out, text_column=text_column, id_column=id_column,
                                   batch_size=batch_size, progress=progress)
    except PolarlabError as e:
        _fail(e)
    if path is None:
        console.print(frame.head(20).to_string(index=False))
    else:
        console.print(f"wrote {len(frame)} predictions: {path}")


def register(app: typer.Typer) -> None:
    """Add the output commands to the ``polarlab`` app."""
    app.command()(predict)
