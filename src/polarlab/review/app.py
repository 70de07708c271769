"""The review web app (FastAPI): one item at a time, keyboard first, answers stored before moving on.

Security: a random token is required on every request (``?token=`` for the page, the
``X-Review-Token`` header for the API); POSTs need that header, a JSON body and, when the browser
sends one, an ``Origin`` equal to the server's own (a cross-site form can set neither), so they are
CSRF-safe; the ``Host`` header must be the one the server was started on (no DNS rebinding);
every text is put on the page with ``textContent`` (never parsed as HTML) under a strict
Content-Security-Policy whose only script is the page's own (nonce).
"""
from __future__ import annotations

import secrets
import threading
import time
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from ..errors import InputError
from ..io.jsonout import to_jsonable
from .page import render_page
from .store import Conflict, ReviewStore, stop_message

TOKEN_HEADER = "X-Review-Token"


class AnswerIn(BaseModel):
    reviewer: str = Field(min_length=1, max_length=64)
    row: int
    label: int | None = None            # None = skip (or the answer is ``other``)
    other: str | None = Field(default=None, max_length=200)    # an id outside the item's choices (``lookup``)
    request_id: str | None = Field(default=None, max_length=64)


class UndoIn(BaseModel):
    reviewer: str = Field(min_length=1, max_length=64)


def new_token() -> str:
    """A random URL-safe token (128 bits)."""
    return secrets.token_urlsafe(16)


def create_app(store: ReviewStore, token: str, *, title: str = "polarlab review",
               allowed_hosts: tuple[str, ...] | None = None,
               on_answer: Callable[[ReviewStore], None] | None = None, status_ttl: float = 1.0,
               lookup: Callable[[str], dict[str, Any]] | None = None) -> FastAPI:
    """The app over ``store``.

    Args:
        store: the review state.
        token: required on every request.
        title: page title.
        allowed_hosts: accepted ``Host`` header values (``host:port``); None = any (or, later,
            ``app.state.allowed_hosts``, which :class:`ReviewServer` sets from the address it binds).
        on_answer: called (in a background thread, one at a time) after each stored answer, e.g. to refit
            the harmonizer and re-order the queue every batch.
        status_ttl: seconds a computed ``/api/status`` is served to every page before it is computed again.
        lookup: turns an answer's ``other`` (an id typed by the reviewer, e.g. any id of a linking project's
            ontology) into the choice it stands for (``id``, ``name``, ``label``, ...), raising
            :class:`~polarlab.errors.InputError` for an unknown id (a 422); None = no typed answers (a session's
            ``lookup``: :class:`polarlab.linking.review.OntologyIds` for linking).
    """
    app = FastAPI(title=title, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.allowed_hosts = None if allowed_hosts is None else set(allowed_hosts)
    _add_guard(app, token)
    _add_page(app, title)
    status = _cached_status(store, status_ttl)
    _add_answer_api(app, store, _answer_hook(store, on_answer), status, lookup)
    _add_status_api(app, status)
    return app


SECURITY_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                    "Referrer-Policy": "no-referrer"}


def _refusal(request: Request, token: str, hosts: set[str] | None) -> JSONResponse | None:
    """Why ``request`` is refused (unknown Host, wrong token, a POST that is not same-origin JSON), or None.

    Reads the ``Host``, ``X-Review-Token``, ``Origin`` and ``Content-Type`` headers and the ``token`` query
    parameter; returns the error response to send instead of handling the request.
    """
    if hosts is not None and request.headers.get("host") not in hosts:
        return JSONResponse({"error": "unknown Host header"}, status_code=400)
    given = request.headers.get(TOKEN_HEADER) or request.query_params.get("token") or ""
    if not secrets.compare_digest(given.encode(), token.encode()):
        return JSONResponse({"error": "missing or wrong token. Fix: open the address that `polarlab review` printed "
                                      "(it ends in ?token=...); a restarted server has a new token unless started "
                                      "with --token"}, status_code=403)
    if request.method not in ("GET", "HEAD"):
        if request.headers.get(TOKEN_HEADER) is None:
            return JSONResponse({"error": f"POST needs the {TOKEN_HEADER} header"}, status_code=403)
        origin = request.headers.get("origin")
        if origin is not None and origin.split("://", 1)[-1] != request.headers.get("host"):
            return JSONResponse({"error": "cross-origin request refused"}, status_code=403)
        if not request.headers.get("content-type", "").startswith("application/json"):
            return JSONResponse({"error": "send JSON"}, status_code=415)
    return None


def _add_guard(app: FastAPI, token: str) -> None:
    """Check every request (:func:`_refusal`, hosts from ``app.state.allowed_hosts``); add :data:`SECURITY_HEADERS`."""

    @app.middleware("http")
    async def guard(request: Request, call_next):
        refused = _refusal(request, token, app.state.allowed_hosts)
        if refused is not None:
            return refused
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers[name] = value
        return response


def _answer_hook(store: ReviewStore, on_answer: Callable[[ReviewStore], None] | None) -> Callable[[], None]:
    """A function to call after each stored answer: runs ``on_answer(store)`` in a background thread.

    One run at a time: an answer stored while the previous run is still going starts none.
    """
    busy = threading.Lock()

    def after_answer() -> None:
        if on_answer is None or not busy.acquire(blocking=False):
            return

        def run() -> None:
            try:
                on_answer(store)
            finally:
                busy.release()
        threading.Thread(target=run, daemon=True).start()

    return after_answer


def _add_page(app: FastAPI, title: str) -> None:
    """``GET /``: the review page, under a Content-Security-Policy whose only script and style carry a fresh nonce."""

    @app.get("/", response_class=HTMLResponse)
    def page() -> HTMLResponse:
        nonce = secrets.token_urlsafe(12)
        csp = (f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
               "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
        return HTMLResponse(render_page(title, nonce), headers={"Content-Security-Policy": csp})


def _add_answer_api(app: FastAPI, store: ReviewStore, after_answer: Callable[[], None],
                    status: Callable[..., dict[str, Any]],
                    lookup: Callable[[str], dict[str, Any]] | None = None) -> None:
    """``GET /api/next`` (the reviewer's next item; none once the stopping rule says stop: ``stop`` says why and
    ``message`` what to do), ``POST /api/answer`` (store one: a ``label`` index, or an ``other`` id that ``lookup``
    turns into a choice; then ``after_answer()``), ``POST /api/undo`` (take the
    reviewer's last answer back). Store errors become 409 (conflict) / 422. An answer's and an undo's response
    carry ``as_of``, the time the change was stored: ``GET /api/status?after=<as_of>`` counts it."""

    @app.get("/api/next")
    def next_item(reviewer: str) -> JSONResponse:
        # the budget is counted exactly (an undo reopens it); the target needs the estimate: the shared status
        why = "budget" if store.budget_spent() else ("target" if status()["stop"] == "target" else None)
        if why is not None:
            return JSONResponse({"done": True, "item": None, "stop": why, "message": stop_message(why, status())})
        try:
            item = store.next_item(reviewer)
        except InputError as e:
            return JSONResponse({"error": str(e)}, status_code=422)
        return JSONResponse(to_jsonable({"done": item is None, "item": item, "stop": None}))

    @app.post("/api/answer")
    def answer(body: AnswerIn) -> JSONResponse:
        try:
            choice = None
            if body.other is not None:
                if body.label is not None:
                    raise InputError("an answer has a label or an other id, not both", column="other",
                                     fix="send one of them")
                if lookup is None:
                    raise InputError("this review takes no typed ids", column="other",
                                     fix="answer with one of the item's choices")
                choice = lookup(body.other)
            aid = store.answer(body.reviewer, body.row, body.label, body.request_id, choice=choice)
        except Conflict as e:
            return JSONResponse({"error": str(e)}, status_code=409)
        except InputError as e:
            return JSONResponse({"error": str(e)}, status_code=422)
        stored_at = time.time()
        after_answer()
        return JSONResponse({"stored": aid, "as_of": stored_at})

    @app.post("/api/undo")
    def undo(body: UndoIn) -> JSONResponse:
        try:
            row = store.undo(body.reviewer)
        except InputError as e:
            return JSONResponse({"error": str(e)}, status_code=422)
        return JSONResponse({"row": row, "as_of": time.time()})


def _cached_status(store: ReviewStore, status_ttl: float) -> Callable[..., dict[str, Any]]:
    """A function ``status(after=None)`` returning ``store.status()`` (NaN / ±inf as null) plus ``as_of`` (the
    wall-clock time its computation began), computed at most once per ``status_ttl`` seconds and shared by every
    reviewer's page (the estimate reads every item).

    ``after``: a time an answer was stored (the ``as_of`` of ``POST /api/answer``); a cached status begun before
    it is computed again, so the counts include that answer. Waiting pages share one computation: one begun after
    their answers serves them all.
    """
    cache: dict[str, Any] = {"at": -1.0, "value": None}
    cache_lock = threading.Lock()

    def status(after: float | None = None) -> dict[str, Any]:
        with cache_lock:
            value = cache["value"]
            stale = (value is None or time.monotonic() - cache["at"] > status_ttl
                     or (after is not None and value["as_of"] < min(after, time.time())))
            if stale:
                began = time.time()
                cache["value"], cache["at"] = {**to_jsonable(store.status()), "as_of": began}, time.monotonic()
            return cache["value"]

    return status


def _add_status_api(app: FastAPI, status: Callable[..., dict[str, Any]]) -> None:
    """``GET /api/status``: the shared, cached ``store.status()`` (:func:`_cached_status`); ``?after=T`` (the
    ``as_of`` of an answer or undo) gives one that includes that change."""

    @app.get("/api/status")
    def status_api(after: float | None = None) -> dict[str, Any]:
        return status(after)


class ReviewServer:
    """uvicorn running the app in a background thread (tests, benchmarks, the CLI).

    Args:
        app: the FastAPI app.
        host, port: where to listen (port 0 = a free one; read :attr:`port` after :meth:`start`).
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        import socket

        import uvicorn

        self.host = host
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        if getattr(app.state, "allowed_hosts", None) is None:
            names = {host, f"[{host}]"} | ({"localhost"} if host in ("127.0.0.1", "::1") else set())
            app.state.allowed_hosts = {f"{h}:{self.port}" for h in names}
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 20.0) -> "ReviewServer":
        self.thread.start()
        t0 = time.monotonic()
        while not self.server.started:
            if time.monotonic() - t0 > timeout or not self.thread.is_alive():
                raise RuntimeError("the review server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()

    def __enter__(self) -> "ReviewServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
