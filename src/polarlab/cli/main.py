"""The ``polarlab`` command line: a thin layer over the Python API."""
from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.logging import RichHandler

from ..errors import PolarlabError
from .render import print_analysis, print_failures, print_metrics

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Label data with rules, dictionaries and LLMs; know which labels to distrust.")
console = Console(stderr=False)
err = Console(stderr=True)


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(message)s",
                        handlers=[RichHandler(console=err, show_path=False)], force=True)


def _fail(e: PolarlabError) -> None:
    err.print(f"[bold red]error:[/] {e}", highlight=False)
    raise typer.Exit(code=2)


@app.command()
def run(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
        out: Optional[Path] = typer.Option(None, "--out", help="output folder (default: the project's [output] dir)"),
        progress: bool = typer.Option(True, help="show progress bars"),
        verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run a project end to end: sources → label matrix → label models → labels file + metrics."""
    _setup_logging(verbose)
    from ..pipeline import run as run_pipeline
    from ..project import load_project

    try:
        proj = load_project(project)
        if out is not None:
            proj.output_dir = out
        result = run_pipeline(proj, progress=progress)
    except PolarlabError as e:
        _fail(e)
    _report(result)


@app.command()
def demo(out: Path = typer.Option(Path("polarlab-demo"), "--out", help="output and cache folder"),
         progress: bool = typer.Option(True, help="show progress bars"),
         verbose: bool = typer.Option(False, "--verbose", "-v")) -> None:
    """Run the bundled demo project (YouTube comment spam) on the embedded defaults."""
    _setup_logging(verbose)
    from ..data.demo import DEMO_PROJECT
    from ..pipeline import run as run_pipeline
    from ..project import load_project

    try:
        proj = load_project(DEMO_PROJECT)
        proj.output_dir = out
        proj.state_dir = out / "state"
        result = run_pipeline(proj, progress=progress)
    except PolarlabError as e:
        _fail(e)
    _report(result)


@app.command()
def analyze(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
            split: Optional[str] = typer.Option(None, help="split to analyse (default: the fit split)")) -> None:
    """Apply the sources and print per-source polarity, coverage, overlap, conflict, accuracy."""
    _setup_logging(False)
    from ..matrix.analysis import analyze as analyze_matrix
    from ..pipeline import choose_fit_split, label_matrices
    from ..project import load_project
    from ..sources.config import sources_from_config

    try:
        proj = load_project(project)
        splits = proj.load_splits()
        name = split or choose_fit_split(splits, proj.fit_split)
        if name not in splits:
            raise PolarlabError(f"no split {name!r}; the splits are {sorted(splits)}")
        sources = sources_from_config(proj.sources, base_dir=proj.base_dir, state_dir=proj.state_dir,
                                      sample=splits[name], file=str(proj.path))
        lm = label_matrices({name: splits[name]}, sources, proj.task)[name]
    except PolarlabError as e:
        _fail(e)
    ds = splits[name]
    print_analysis(console, analyze_matrix(lm, ds.gold if ds.has_gold else None), f"sources on {name}")
    print_failures(console, lm)


def _report(result) -> None:
    print_analysis(console, result.analysis, f"sources on {result.fit_split} ({len(result.splits[result.fit_split])} rows)")
    print_failures(console, result.matrices[result.fit_split])
    print_metrics(console, result.metrics, final=result.final)
    for name, path in result.outputs.items():
        console.print(f"wrote {name}: {path}")


def main() -> None:  # pragma: no cover - entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
