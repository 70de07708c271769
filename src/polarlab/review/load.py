"""A load generator for the review server: concurrent reviewers answering as fast as they can.

Used by the load test and ``benchmarks/review_load.py``. Each reviewer is a thread with its own
HTTP connection that loops ``GET /api/next`` → ``POST /api/answer`` until the time is up or the queue
is empty. Afterwards the stored answers are compared with the acknowledged ones: lost = acknowledged
but not in SQLite; duplicated = an item with more valid answers than reviews per item, or an
acknowledged request stored twice.
"""
from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import numpy as np

from .app import TOKEN_HEADER
from .store import ReviewStore


def run_load(url: str, token: str, store: ReviewStore, reviewers: int = 20, seconds: float = 60.0,
             n_labels: int = 2, seed: int = 0) -> dict[str, Any]:
    """Drive ``reviewers`` concurrent answer loops against ``url`` for ``seconds``; returns the figures
    (requests, requests_per_s, p50/p95/max latency in ms, answers acknowledged/stored, lost, duplicated, errors)."""
    import httpx

    latencies: list[float] = []
    acked: list[tuple[str, int, str]] = []
    errors: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + seconds

    def loop(k: int) -> None:
        name = f"reviewer{k:02d}"
        rng = np.random.default_rng(seed + k)
        mine_lat, mine_ack, mine_err = [], [], []
        with httpx.Client(base_url=url, headers={TOKEN_HEADER: token}, timeout=30.0) as c:
            while time.monotonic() < stop_at:
                t = time.perf_counter()
                r = c.get("/api/next", params={"reviewer": name})
                mine_lat.append(time.perf_counter() - t)
                if r.status_code != 200:
                    mine_err.append(f"next {r.status_code}")
                    continue
                item = r.json()["item"]
                if item is None:
                    break
                rid = uuid.uuid4().hex
                body = {"reviewer": name, "row": item["row"], "label": int(rng.integers(n_labels)), "request_id": rid}
                t = time.perf_counter()
                r = c.post("/api/answer", json=body)
                mine_lat.append(time.perf_counter() - t)
                if r.status_code == 200:
                    mine_ack.append((name, item["row"], rid))
                else:
                    mine_err.append(f"answer {r.status_code}")
        with lock:
            latencies.extend(mine_lat)
            acked.extend(mine_ack)
            errors.extend(mine_err)

    t0 = time.monotonic()
    threads = [threading.Thread(target=loop, args=(k,)) for k in range(reviewers)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.monotonic() - t0
    stored = store.answers()
    by_rid = {}
    for a in stored:
        by_rid.setdefault(a["request_id"], []).append(a)
    lost = sum(1 for _, _, rid in acked if rid not in by_rid)
    per_item = int(store.meta().get("reviews_per_item", 1))
    counts: dict[int, int] = {}
    for a in stored:
        if a["answer"] is not None:
            counts[a["row"]] = counts.get(a["row"], 0) + 1
    duplicated = sum(c - per_item for c in counts.values() if c > per_item) + sum(
        len(v) - 1 for v in by_rid.values() if len(v) > 1)
    lat = np.asarray(latencies) * 1000.0
    return {"reviewers": reviewers, "seconds": wall, "requests": int(len(lat)),
            "requests_per_s": float(len(lat) / wall) if wall else 0.0,
            "p50_ms": float(np.percentile(lat, 50)) if len(lat) else None,
            "p95_ms": float(np.percentile(lat, 95)) if len(lat) else None,
            "max_ms": float(lat.max()) if len(lat) else None,
            "answers_acknowledged": len(acked), "answers_stored": len(stored), "lost": lost,
            "duplicated": duplicated, "errors": len(errors), "error_kinds": sorted(set(errors))[:5]}
