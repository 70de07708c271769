"""``polarlab review PROJECT`` (the review web app or ``--tui``) and ``polarlab review status PROJECT``."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from typer.core import TyperGroup


class _DefaultServe(TyperGroup):
    """``polarlab review PROJECT ...`` means ``polarlab review serve PROJECT ...``."""

    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["serve", *args]
        return super().parse_args(ctx, args)


review_app = typer.Typer(cls=_DefaultServe, no_args_is_help=True,
                         help="Review the riskiest labels in a browser (or a terminal); see the estimate. "
                              "Classification, linking (pick the right entity among the candidates) and spans "
                              "projects. "
                              "`polarlab review PROJECT [--host H] [--port P] [--token T] [--no-browser] [--tui]` "
                              "starts a review (= `review serve`); `polarlab review status PROJECT` reports on it.")


#: the setting a review error names (``ReviewConfig``'s, as ``review.<name>``) -> the option that sets it here
_FLAGS = {"reviews_per_item": "--double-review", "values": "--schedule"}

#: ``serve``'s parameters that set a review setting (:data:`polarlab.review.kinds.SETTINGS`) -> that setting
_SETTING_PARAMS = {"split": "split", "batch_size": "batch_size", "budget": "budget", "target": "target",
                   "audit_share": "audit_share", "double_review": "reviews_per_item", "schedule": "schedule",
                   "accepted": "accepted", "slices": "slices", "slice_name": "slice"}


def given_settings(ctx: typer.Context) -> set[str]:
    """The review settings whose options the user gave (on the command line or from the environment, not the
    defaults): a kind refuses those it does not use (:meth:`polarlab.review.kinds.ReviewKind.check`). The source
    is compared by name: typer may bring its own copy of click's ``ParameterSource``."""
    sources = {param: ctx.get_parameter_source(param) for param in _SETTING_PARAMS}
    return {setting for param, setting in _SETTING_PARAMS.items()
            if sources[param] is not None and sources[param].name not in ("DEFAULT", "DEFAULT_MAP")}


def _fail(e) -> None:
    """Exit with ``e`` as one line; a review setting is named by its command-line option (``--target``)."""
    from ..errors import ConfigError
    from .main import _fail as fail

    if isinstance(e, ConfigError) and (e.column or "").startswith("review."):
        name = e.column[len("review."):]
        e.column = _FLAGS.get(name, "--" + name.replace("_", "-"))
    fail(e)


@review_app.command("serve")
def serve(ctx: typer.Context, project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
          host: str = typer.Option("127.0.0.1", help="address to listen on"),
          port: int = typer.Option(8765, help="port (0 = any free one)"),
          token: Optional[str] = typer.Option(None, help="access token (default: a random one, printed)"),
          no_browser: bool = typer.Option(False, "--no-browser", help="do not open a browser"),
          tui: bool = typer.Option(False, "--tui", help="review in this terminal instead of a browser"),
          reviewer: Optional[str] = typer.Option(None, help="your name (--tui; the page asks for it)"),
          split: Optional[str] = typer.Option(None, help="split to review (default: the fit split; classification "
                                              "projects)"),
          batch_size: int = typer.Option(20, help="answers per self-paced round (then the harmonizer is refitted; "
                                         "classification projects)"),
          budget: float = typer.Option(0.05, help="reviews allowed: a count (200) or a fraction of the items (0.05)"),
          target: float = typer.Option(0.95, help="stop when the estimate's lower bound reaches this accuracy"),
          audit_share: float = typer.Option(0.2, help="share of reviews spent on random checks for the estimate"),
          double_review: bool = typer.Option(False, "--double-review", help="each item by two reviewers"),
          schedule: str = typer.Option("linear:0.05:0.05:0.5", help="acceptance threshold per round: "
                                       "linear:START:STEP:STOP, geometric:START:FACTOR:STOP or list:T1,T2,... "
                                       "(classification projects)"),
          accepted: str = typer.Option("source", help="what acceptance does to a label: source (kept, and a "
                                       "source of each refit; faster to the target on youtube and sms, slower on "
                                       "trec: docs/results/review.md), free (later refits may change it) or lock "
                                       "(kept); classification projects"),
          slices: Optional[Path] = typer.Option(None, help="a Python file of slicing functions (with --slice; "
                                                 "classification projects)"),
          slice_name: Optional[str] = typer.Option(None, "--slice", help="review only this slice's items (a "
                                                   "slicing function in --slices)"),
          progress: bool = typer.Option(True, help="progress bars while the project runs")) -> None:
    """Start the review: run the project (a linking project: reuse its saved run), order the queue by risk, serve
    the page (token on every request). An option the project's kind does not use (a linking or spans review has no
    --split, --slices, --batch-size, --schedule, --accepted) is refused before anything runs."""
    from ..errors import PolarlabError
    from ..project import peek_task_kind
    from ..review.kinds import review_kind
    from ..review.schedule import parse_schedule
    from ..review.session import ReviewConfig
    from .main import _setup_logging, console

    _setup_logging(False)
    try:
        kind = review_kind(peek_task_kind(project), project)
        kind.check(given_settings(ctx))      # an option this kind would ignore: refused, before anything slow
        if not tui:
            _check_port(host, port)          # before the (slow) project run
        config = ReviewConfig(split=split, batch_size=batch_size, budget=budget, target=target,
                              audit_share=audit_share, reviews_per_item=2 if double_review else 1,
                              schedule=parse_schedule(schedule), accepted=accepted, slices=slices,
                              slice=slice_name)
        if slices is not None:
            from ..slicing import load_slicing_functions

            load_slicing_functions(slices, [slice_name])     # a bad file or name fails before the project runs
        session = kind.open(project, config, progress)
    except PolarlabError as e:
        _fail(e)
    if tui:
        from ..review.tui import run_tui

        name = reviewer or typer.prompt("your name")
        n = run_tui(session.store, name, on_answer=session,     # item texts as they are (no rich markup)
                    write=lambda line: console.print(line, markup=False, highlight=False), lookup=session.lookup)
        session.sync()
        console.print(f"{n} answers stored in {session.store.path}")
        return
    _serve(session, host, port, token, no_browser, console)


def _check_port(host: str, port: int) -> None:
    import socket

    from ..errors import ConfigError

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port} ({e.strerror or e})", column="--port",
                          fix="choose another --port (0 = any free one) or --host") from None


def _serve(session, host: str, port: int, token: Optional[str], no_browser: bool, console) -> None:
    import time
    import webbrowser

    from ..review.app import ReviewServer, create_app, new_token

    token = token or new_token()
    app = create_app(session.store, token, title=f"polarlab review · {session.store.meta().get('task', '')}",
                     on_answer=session, lookup=session.lookup)
    server = ReviewServer(app, host, port).start()
    url = f"{server.url}/?token={token}"
    console.print(f"review server at {server.url}  token: {token}")
    console.print(f"open {url}", soft_wrap=True)
    status = session.store.status()
    if status["stop"] is not None:        # the page will serve no item: say why here too
        from ..review.store import stop_message

        console.print(stop_message(status["stop"], status), markup=False, highlight=False, soft_wrap=True)
    if not no_browser:
        webbrowser.open(url)
    try:
        while server.thread.is_alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


@review_app.command("status")
def status(project: Path = typer.Argument(..., help="the project file (polarlab.toml)"),
           as_json: bool = typer.Option(False, "--json", help="print the status as one JSON object"),
           labels: Optional[Path] = typer.Option(None, "--labels", "--export", help="also write the final labels "
                                                 "(the people's answers where reviewed, else the machine's; a linking "
                                                 "project: its labels file with the reviewed links) to this .csv/"
                                                 ".jsonl/.parquet file"),
           slices: Optional[Path] = typer.Option(None, help="a Python file of slicing functions (with --slice)"),
           slice_name: Optional[str] = typer.Option(None, "--slice", help="report on this slice's items only "
                                                    "(default: the slice the review was started on, if any)")) -> None:
    """Reviewed / accepted / remaining, the accuracy estimate with its interval, and the budget left."""
    from ..errors import ConfigError, PolarlabError
    from ..io.jsonout import dumps
    from ..project import peek_task_kind
    from ..review.kinds import review_kind
    from ..review.store import ReviewStore
    from .main import console

    try:
        kind = review_kind(peek_task_kind(project), project)
        path = kind.store_path(project)
        store = ReviewStore(path) if path.exists() else None
        if store is None or store.n_items() == 0:
            raise ConfigError("no review has started for this project", file=str(path),
                              fix=f"start one with: polarlab review {project}")
        s = store.status(**kind.scope(project, store, slices, slice_name))
    except PolarlabError as e:
        _fail(e)
    if labels is not None:
        from ..export.labels import write_table

        try:
            console.print(f"wrote labels: {write_table(kind.labels(project, store), labels)}")
        except PolarlabError as e:
            _fail(e)
    if as_json:
        print(dumps({k: v for k, v in s.items() if k != "chart"}))
        return
    e, ea = s["estimate"], s["estimate_accepted"]
    if s.get("scope"):
        console.print(f"slice {s['scope']!r}")
    console.print(f"items {s['items']}: reviewed {s['reviewed']} (random checks {s['audited']}), accepted "
                  f"{s['accepted']} (recalibrated risk < {s['threshold']:.2f}), remaining {s['remaining']}")

    def fmt(x) -> str:
        return "n/a" if x is None or x != x else f"{100 * x:.1f}%"

    console.print(f"estimated accuracy of all unreviewed labels: {fmt(e['accuracy'])} "
                  f"[{fmt(e['lower'])}, {fmt(e['upper'])}] ({int(100 * e['level'])}% interval; target {fmt(s['target'])})")
    console.print(f"estimated accuracy of the accepted labels: {fmt(ea['accuracy'])} "
                  f"[{fmt(ea['lower'])}, {fmt(ea['upper'])}]")
    console.print(f"budget: {s['budget']} reviews, {s['budget_left']} left; errors found {s['errors_found']}; "
                  f"stop: {s['stop'] or 'not yet'}")
    a = s["agreement"]
    if a["items"]:
        kappa = "n/a" if a["kappa"] is None else f"{a['kappa']:.2f}"
        console.print(f"double-reviewed items {a['items']}: agreement {fmt(a['pairwise'])}, kappa {kappa}")
