"""Load test of the review server: concurrent reviewers' answer loops against 127.0.0.1.

A real uvicorn server, in its own process (as ``polarlab review`` runs it; the load generator's threads
would otherwise share its interpreter lock), over a review store of ``--items`` synthetic items in a
temporary SQLite file (token header, JSON POSTs, one BEGIN IMMEDIATE transaction per answer).
``--reviewers`` threads (default 20) each loop GET /api/next -> POST /api/answer for ``--seconds``
(default 60). Afterwards every acknowledged answer is looked up in SQLite.

Targets: 0 lost and 0 duplicated answers, 0 errors. The last line is one JSON object: reviewers,
seconds, requests, requests_per_s, p50_ms, p95_ms, max_ms, answers_acknowledged, answers_stored,
lost, duplicated, errors.
"""
from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
from pathlib import Path

import numpy as np

from polarlab.io.jsonout import dumps  # strict JSON last line: NaN / ±inf as null


def serve(path: str, token: str, port_q, stop) -> None:
    """The server process: serve the store until ``stop`` is set."""
    from polarlab.review.app import ReviewServer, create_app
    from polarlab.review.store import ReviewStore

    with ReviewServer(create_app(ReviewStore(path), token)) as server:
        port_q.put(server.port)
        stop.wait()


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--reviewers", type=int, default=20)
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--items", type=int, default=50000)
    p.add_argument("--double-review", action="store_true", help="two reviewers per item")
    a = p.parse_args(argv)
    from polarlab.review.load import run_load
    from polarlab.review.store import Item, ReviewStore

    with tempfile.TemporaryDirectory() as tmp:
        store = ReviewStore(Path(tmp) / "review.sqlite")
        store.set_meta(labels=["ham", "spam"], reviews_per_item=2 if a.double_review else 1, audit_share=0.1,
                       threshold=0.1, target=0.95, budget=a.items)
        risk = np.random.default_rng(0).uniform(0, 0.5, a.items)
        store.put_items([Item(i, f"x{i}", "audit" if i % 10 == 0 else "risk", float(risk[i]), i % 2, float(risk[i]),
                              {"text": f"synthetic item {i}", "rules": []}) for i in range(a.items)])
        ctx = multiprocessing.get_context("spawn")
        port_q, stop = ctx.Queue(), ctx.Event()
        proc = ctx.Process(target=serve, args=(str(store.path), "bench-token", port_q, stop))
        proc.start()
        try:
            port = port_q.get(timeout=120)
            out = run_load(f"http://127.0.0.1:{port}", "bench-token", store, reviewers=a.reviewers,
                           seconds=a.seconds)
        finally:
            stop.set()
            proc.join(timeout=30)
    for k, v in out.items():
        print(f"{k:22s} {v}")
    print(dumps(out))
    return out


if __name__ == "__main__":
    sys.exit(main() and 0)
