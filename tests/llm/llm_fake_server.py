"""A real HTTP server speaking the OpenAI protocol, for the remote-backend tests.

FastAPI app served by uvicorn on 127.0.0.1 (a free port) in a background thread. It answers
``/v1/chat/completions`` and ``/v1/completions`` from the prompt: the label words come from the
prompt's ``Labels:`` line; the example is "spam" (second word) when its ``Text:`` line contains
win/free/prize, else the first word. A multiple choice of the LLM linker (``Terms:`` then numbered options)
is answered with option 1. Behaviour is set per test with :meth:`FakeServer.configure`.
It counts requests per prompt.
"""
from __future__ import annotations

import asyncio
import hashlib
import re
import socket
import threading
import time
from collections import Counter

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

DEFAULTS = dict(api_key=None, models=("fake-model",), logprobs=True, reject_logprobs=False,
                fail_first=0, fail_status=429, delay_s=0.0, list_models=False, top_hides_labels=False)
SPAM_WORDS = ("win", "free", "prize")


def prompt_hash(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()


def _decide(prompt: str) -> tuple[list[str], int, float]:
    words = ["ham", "spam"]
    text = ""
    for line in prompt.splitlines():
        if line.startswith("Labels: "):
            words = [w.strip() for w in line[len("Labels: "):].split(",")]
        if line.startswith("Text: "):
            text = line[len("Text: "):]
    options = [ln.split(".", 1)[0] for ln in prompt.splitlines() if re.match(r"\d\. ", ln)]
    if "\nTerms:\n" in prompt and len(options) >= 2:   # the LLM linker's multiple choice: answer option 1
        words = options
    low = text.lower()
    if text.strip() in ("", "N/A", "[MASK]"):
        return words, 0, -0.5          # content-free: biased to the first word, mildly
    if any(w in low for w in SPAM_WORDS):
        return words, 1, -0.1
    return words, 0, -0.2


class FakeServer:
    def __init__(self) -> None:
        self.cfg = dict(DEFAULTS)
        self.requests: Counter[str] = Counter()   # every request, per prompt hash
        self.served: Counter[str] = Counter()     # successful answers, per prompt hash
        self.prompts: dict[str, str] = {}
        self.auth_headers: list[str] = []
        self._lock = threading.Lock()
        self.app = self._make_app()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- control ------------------------------------------------------------------------
    def configure(self, **kw) -> None:
        unknown = set(kw) - set(DEFAULTS)
        assert not unknown, unknown
        self.cfg = dict(DEFAULTS) | kw

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()
            self.served.clear()
            self.prompts.clear()
            self.auth_headers.clear()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self, port: int = 0) -> "FakeServer":
        """Serve on ``port`` (0: a free one); a stopped server's port answers nothing (connection refused)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        daemon=True)
        self._thread.start()
        t0 = time.time()
        while not self._server.started:
            if time.time() - t0 > 20:
                raise RuntimeError("fake server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)

    # -- app ------------------------------------------------------------------------------
    def _make_app(self) -> FastAPI:
        app = FastAPI()

        async def common(request: Request, body: dict, prompt: str):
            cfg = self.cfg
            auth = request.headers.get("authorization", "")
            h = prompt_hash(prompt)
            with self._lock:
                self.requests[h] += 1
                n = self.requests[h]
                self.prompts[h] = prompt
                self.auth_headers.append(auth)
            if cfg["delay_s"]:
                await asyncio.sleep(cfg["delay_s"])
            if cfg["api_key"] is not None and auth != f"Bearer {cfg['api_key']}":
                return JSONResponse({"error": {"message": "Incorrect API key provided",
                                               "type": "invalid_request_error",
                                               "code": "invalid_api_key"}}, status_code=401)
            if body.get("model") not in cfg["models"]:
                return JSONResponse({"error": {"message": f"The model `{body.get('model')}` does not exist",
                                               "type": "invalid_request_error",
                                               "code": "model_not_found"}}, status_code=404)
            if n <= cfg["fail_first"]:
                return JSONResponse({"error": {"message": "Rate limit reached", "type": "rate_limit"}},
                                    status_code=cfg["fail_status"], headers={"retry-after": "0"})
            wants_lp = bool(body.get("logprobs"))
            if wants_lp and cfg["reject_logprobs"]:
                return JSONResponse({"error": {"message": "logprobs are not supported by this model",
                                               "type": "invalid_request_error"}}, status_code=400)
            return None

        def usage(prompt: str, out: int) -> dict:
            return {"prompt_tokens": len(prompt.split()), "completion_tokens": out,
                    "total_tokens": len(prompt.split()) + out}

        def served(prompt: str) -> None:
            with self._lock:
                self.served[prompt_hash(prompt)] += 1

        @app.get("/v1/models")
        async def models():
            if not self.cfg["list_models"]:
                return JSONResponse({"error": {"message": "not found"}}, status_code=404)
            return {"object": "list", "data": [{"id": m, "object": "model", "owned_by": "me"}
                                                for m in self.cfg["models"]]}

        @app.post("/v1/chat/completions")
        async def chat(request: Request):
            body = await request.json()
            prompt = body["messages"][-1]["content"]
            err = await common(request, body, prompt)
            if err is not None:
                return err
            words, y, lp = _decide(prompt)
            served(prompt)
            if "EMPTY" in prompt:
                return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [], "usage": usage(prompt, 0)}
            content = "" if "BLANK" in prompt else words[y]
            choice = {"index": 0, "finish_reason": "stop",
                      "message": {"role": "assistant", "content": content}}
            if body.get("logprobs") and self.cfg["logprobs"] and content:
                other = words[1 - y]
                top = [{"token": words[y], "logprob": lp, "bytes": None},
                       {"token": other, "logprob": -2.5, "bytes": None},
                       {"token": "The", "logprob": -4.0, "bytes": None}]
                if self.cfg["top_hides_labels"]:  # the model starts with a word that is no label
                    top = [{"token": "The", "logprob": -0.1, "bytes": None},
                           {"token": "This", "logprob": -2.5, "bytes": None}]
                choice["logprobs"] = {"content": [{"token": words[y], "logprob": lp, "bytes": None,
                                                   "top_logprobs": top}]}
            return {"id": "x", "object": "chat.completion", "created": 0, "model": body["model"],
                    "choices": [choice], "usage": usage(prompt, 1)}

        @app.post("/v1/completions")
        async def completions(request: Request):
            body = await request.json()
            prompt = body["prompt"]
            err = await common(request, body, prompt)
            if err is not None:
                return err
            if body.get("echo"):  # score the label appended to the prompt
                base, _, word = prompt.rpartition(" ")
                words, y, lp = _decide(base)
                served(prompt)
                offsets, logprobs, pos = [], [], 0
                for tok in prompt.split(" "):
                    offsets.append(pos)
                    logprobs.append(None if pos == 0 else -1.0)
                    pos += len(tok) + 1
                logprobs[-1] = lp if word == words[y] else -2.5
                choice = {"index": 0, "finish_reason": "length", "text": prompt + "\n",
                          "logprobs": {"tokens": prompt.split(" ") + ["\n"], "text_offset": offsets + [pos - 1],
                                       "token_logprobs": logprobs + [-0.5], "top_logprobs": None}}
                return {"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                        "choices": [choice], "usage": usage(prompt, 1)}
            words, y, lp = _decide(prompt)
            served(prompt)
            text = "" if "BLANK" in prompt else " " + words[y]
            choice = {"index": 0, "finish_reason": "stop", "text": text, "logprobs": None}
            if body.get("logprobs") and self.cfg["logprobs"] and text:
                choice["logprobs"] = {"tokens": [" " + words[y]], "token_logprobs": [lp],
                                      "text_offset": [0],
                                      "top_logprobs": [{" " + words[y]: lp, " " + words[1 - y]: -2.5,
                                                        " The": -4.0}]}
            return {"id": "x", "object": "text_completion", "created": 0, "model": body["model"],
                    "choices": [choice], "usage": usage(prompt, 1)}

        return app
