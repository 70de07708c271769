"""llama-cpp-python's own OpenAI-compatible server (``python -m llama_cpp.server``) serving the packaged
Gemma 3 270M on 127.0.0.1, for tests of the remote path against a real server and model."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from typing import Iterator

import pytest


# ``python -m llama_cpp.server`` with the model loaded as polarlab loads it (no extra CPU buffer types:
# polarlab.llm.local.without_extra_buffers says why)
_SERVE = ("import runpy, sys, llama_cpp; from polarlab.llm.local import without_extra_buffers\n"
          "sys.argv[0] = 'llama_cpp.server'\n"
          "with without_extra_buffers(llama_cpp):\n"
          "    runpy.run_module('llama_cpp.server', run_name='__main__', alter_sys=True)\n")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@contextmanager
def llama_cpp_server(alias: str = "gemma", n_threads: int = 2, start_timeout_s: float = 180) -> Iterator[str]:
    """Start the server (skips the test when its extras are missing); yields its base URL ``.../v1``."""
    for mod in ("sse_starlette", "starlette_context", "pydantic_settings"):
        pytest.importorskip(mod)
    from polarlab.llm.local import default_gguf

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", _SERVE, "--model", str(default_gguf()),
                             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048",
                             "--n_threads", str(n_threads), "--model_alias", alias, "--verbose", "False"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/v1"
    t0 = time.time()
    try:
        while True:
            try:
                urllib.request.urlopen(url + "/models", timeout=5).read()
                break
            except OSError:
                if proc.poll() is not None or time.time() - t0 > start_timeout_s:
                    pytest.fail("llama_cpp.server did not start")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
