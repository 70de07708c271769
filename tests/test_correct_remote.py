"""``polarlab bench wrench --llm http://…/v1 --correct …`` end to end against a local OpenAI-compatible server.

The server is a small FastAPI app speaking the chat-completions protocol with top log-probs; the client is
the real OpenAI backend, the cache a real SQLite file.
"""
from __future__ import annotations

import json
import math
import re
import socket
import threading
import time
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "youtube"
SPAMMY = ("http", "subscribe", "check", "channel", "www", "free", ".com")

pytestmark = pytest.mark.skipif(not (DATA / "test.json").exists(), reason="WRENCH youtube data not found")


def make_app() -> FastAPI:
    app = FastAPI()
    app.state.prompts = []

    @app.post("/v1/chat/completions")
    async def chat(request: Request):
        body = await request.json()
        prompt = body["messages"][-1]["content"]
        app.state.prompts.append(prompt)
        words = [w.strip() for w in re.search(r"^Labels: (.*)$", prompt, re.M).group(1).split(",")]
        text = prompt.rsplit("Text: ", 1)[-1].lower()
        # a careless first answer (links only); asked to verify, it looks at more cues
        cues = SPAMMY if "Previous answer:" in prompt else ("http",)
        y = 1 if any(c in text for c in cues) else 0
        word = words[y]
        alts = [{"token": w, "logprob": math.log(0.8 if i == y else 0.2 / (len(words) - 1)), "bytes": None}
                for i, w in enumerate(words)]
        logprobs = {"content": [{"token": word, "logprob": math.log(0.8), "bytes": None, "top_logprobs": alts}]}
        if not body.get("logprobs"):
            logprobs = None
        return {"id": f"c{len(app.state.prompts)}", "object": "chat.completion", "created": 0,
                "model": body["model"],
                "choices": [{"index": 0, "message": {"role": "assistant", "content": word},
                             "finish_reason": "stop", "logprobs": logprobs}],
                "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 1,
                          "total_tokens": len(prompt) // 4 + 1}}

    return app


@pytest.fixture()
def server():
    import uvicorn

    app = make_app()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    th = threading.Thread(target=srv.run, kwargs={"sockets": [sock]}, daemon=True)
    th.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}/v1"
    srv.should_exit = True
    th.join(timeout=10)
    sock.close()


def bench(url, state, tmp_path):
    from typer.testing import CliRunner

    from polarlab.cli.main import app

    args = ["bench", "wrench", str(DATA), "--llm", url, "--llm-model", "stub", "--limit", "30",
            "--features", "tfidf", "--state-dir", str(state), "--no-progress",
            "--correct", "verify,harmonizer", "--budget", "0.2", "--audit-dir", str(tmp_path / "audit")]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return json.loads(res.output.strip().splitlines()[-1])


@pytest.mark.slow
def test_bench_wrench_correct_verify_remote(server, tmp_path):
    app, url = server
    state = tmp_path / "state"
    out = bench(url, state, tmp_path)
    first = len(app.state.prompts)
    corr = out["correction"]
    n = out["n_test"]
    assert n == 30 and set(corr) == {"verify", "harmonizer"}
    v = corr["verify"]
    for key in ("slice_n", "llm_error_before", "llm_error_after", "accuracy_before", "accuracy_after", "calls"):
        assert key in v
    assert v["slice_n"] == v["calls"] == 6                           # floor(0.2 * 30), exactly
    assert corr["harmonizer"]["slice_n"] == 6 and corr["harmonizer"]["calls"] == 0
    import pandas as pd

    audit = pd.read_csv(tmp_path / "audit" / "audit_verify.csv", keep_default_na=False)
    assert len(audit) == 6
    # verify prompts share the calibration of the first labelling (evidence and previous answer are
    # dropped from content-free prompts): only the re-asks reach the server, identical ones once
    verify_prompts = [p for p in app.state.prompts if "Previous answer:" in p]
    assert len(verify_prompts) == v["backend_calls"] == audit["cache_key"].nunique()
    assert all(p.count("Previous answer:") == 1 for p in verify_prompts)
    # a re-run is answered from the cache: no request reaches the server, same figures
    again = bench(url, state, tmp_path)
    assert len(app.state.prompts) == first
    assert again["correction"]["verify"]["backend_calls"] == 0
    assert again["correction"]["verify"]["llm_error_after"] == v["llm_error_after"]
