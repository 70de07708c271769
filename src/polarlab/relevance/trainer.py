"""Fine-tune the MiniLM bi-encoder on (query, relevant document, hard negative) triplets.

The loss is the multiple-negatives ranking loss of sentence-transformers (cross-entropy of the
scaled cosine of each query with its positive against every other positive and every hard
negative in the batch); a triplet may lack its hard negative (in-batch negatives only) or carry
several (``Triplet.more_negs``). One
pass with AdamW and linear warm-up, short sequences: minutes on a CPU for ~1k triplets.

Resumable: the saved folder holds ``polarlab_train.json`` (a hash of the triplets, the settings and
the starting model, and the training time); ``fit`` on a folder whose manifest matches loads
nothing and trains nothing, so a killed run that is started again retrains only what was missing.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import InputError
from ..features.embedding import packaged_model_path
from .beir import BeirData


MANIFEST = "polarlab_train.json"


def _read_manifest(folder: Path) -> dict:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


@dataclass(frozen=True)
class Triplet:
    """A training example: query id, relevant document index, hard-negative index (or None), and
    further hard negatives of the same query (``more_negs``; the loss sees them all)."""

    qid: str
    pos: int
    neg: int | None = None
    more_negs: tuple[int, ...] = ()

    @property
    def negatives(self) -> tuple[int, ...]:
        """Every hard negative of the triplet."""
        return ((self.neg,) if self.neg is not None else ()) + tuple(self.more_negs)


class BiEncoderTrainer:
    """Fine-tunes a sentence-transformers bi-encoder (scikit-learn style: ``fit`` then use ``model_path_``).

    Parameters:
        base_model: folder of the starting model; None = the packaged all-MiniLM-L6-v2.
        max_seq_length: tokens per text (documents: title + first sentences).
        batch_size: triplets per step.
        epochs: passes over the triplets.
        lr: AdamW learning rate.  warmup: share of steps with a linear warm-up.
        scale: the loss's cosine scale (sentence-transformers' default 20).
        seed: shuffling and initialisation.
        num_threads: torch threads while training (restored afterwards); None keeps torch's.

    Attributes (after ``fit``):
        model_path_: the saved model folder.  n_triplets_: triplets trained on.
        reused_: True when the folder already held this training (nothing was trained).
        train_seconds_: the training's wall time (the saved one when reused).
    """

    def __init__(self, base_model: str | os.PathLike | None = None, max_seq_length: int = 128,
                 batch_size: int = 16, epochs: int = 1, lr: float = 2e-5, warmup: float = 0.1,
                 scale: float = 20.0, seed: int = 0, num_threads: int | None = None) -> None:
        self.base_model = base_model
        self.max_seq_length = int(max_seq_length)
        self.batch_size = int(batch_size)
        self.epochs = int(epochs)
        self.lr = float(lr)
        self.warmup = float(warmup)
        self.scale = float(scale)
        self.seed = int(seed)
        self.num_threads = num_threads

    def fit(self, data: BeirData, triplets: Sequence[Triplet], out_dir: str | os.PathLike,
            doc_chars: int | None = None) -> "BiEncoderTrainer":
        """Train on ``triplets`` and save the model to ``out_dir`` (replaced atomically).

        Raises:
            InputError: fewer than 2 triplets (the loss needs in-batch negatives).
        """
        if len(triplets) < 2:
            raise InputError(f"{len(triplets)} training triplet(s)", column="labels",
                             fix="the retriever needs at least 2 (query, relevant document) pairs; "
                                 "raise the LLM budget or check the labels")
        out = Path(out_dir)
        key = self.fingerprint(data, triplets, doc_chars)
        manifest = _read_manifest(out)
        if manifest.get("key") == key:
            self.model_path_, self.n_triplets_ = out, len(triplets)
            self.reused_, self.train_seconds_ = True, float(manifest.get("seconds", 0.0))
            return self
        self._train(data, triplets, out, doc_chars, key)
        return self

    def fingerprint(self, data: BeirData, triplets: Sequence[Triplet], doc_chars: int | None) -> str:
        """Hash of what the trained model depends on: settings, starting model, triplets (as ids)."""
        path = Path(self.base_model) if self.base_model else packaged_model_path()
        weights = path / "model.safetensors"
        base = f"{path.resolve()}@{weights.stat().st_mtime_ns if weights.exists() else '?'}"
        settings = {k: getattr(self, k) for k in ("max_seq_length", "batch_size", "epochs", "lr", "warmup",
                                                    "scale", "seed")}
        trips = [(t.qid, data.doc_ids[t.pos], None if t.neg is None else data.doc_ids[t.neg])
                 + tuple(data.doc_ids[d] for d in t.more_negs) for t in triplets]
        blob = json.dumps([base, settings, doc_chars, trips], sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _train(self, data: BeirData, triplets: Sequence[Triplet], out: Path, doc_chars: int | None,
               key: str) -> None:
        import torch
        from sentence_transformers import SentenceTransformer

        t0 = time.perf_counter()
        threads = torch.get_num_threads()
        if self.num_threads:
            torch.set_num_threads(int(self.num_threads))
        try:
            random.seed(self.seed)
            np.random.seed(self.seed)
            torch.manual_seed(self.seed)
            path = Path(self.base_model) if self.base_model else packaged_model_path()
            model = SentenceTransformer(str(path), device="cpu", local_files_only=True)
            model.max_seq_length = self.max_seq_length
            order = list(triplets)
            steps = self.epochs * ((len(order) + self.batch_size - 1) // self.batch_size)
            opt = torch.optim.AdamW(model.parameters(), lr=self.lr)
            n_warm = max(1, int(self.warmup * steps))
            sched = torch.optim.lr_scheduler.LambdaLR(
                opt, lambda s: min((s + 1) / n_warm, max(0.0, (steps - s) / max(1, steps - n_warm))))
            rng = random.Random(self.seed)
            self.losses_: list[float] = []
            model.train()
            for _ in range(self.epochs):
                rng.shuffle(order)
                for i in range(0, len(order), self.batch_size):
                    batch = order[i:i + self.batch_size]
                    if len(batch) < 2:
                        continue
                    loss = self._loss(model, data, batch, doc_chars)
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                    opt.step()
                    sched.step()
                    self.losses_.append(float(loss.detach()))
            model.eval()
            tmp = out.with_name(f".{out.name}.tmp")
            shutil.rmtree(tmp, ignore_errors=True)
            model.save(str(tmp))
            seconds = time.perf_counter() - t0
            (tmp / MANIFEST).write_text(json.dumps({"key": key, "seconds": round(seconds, 1),
                                                    "triplets": len(triplets)}), encoding="utf-8")
            shutil.rmtree(out, ignore_errors=True)
            os.replace(tmp, out)
            self.model_path_ = out
            self.n_triplets_ = len(triplets)
            self.reused_, self.train_seconds_ = False, seconds
        finally:
            torch.set_num_threads(threads)

    def _loss(self, model, data: BeirData, batch: Sequence[Triplet], doc_chars: int | None):
        import torch

        def emb(texts: list[str]):
            prep = getattr(model, "preprocess", None) or model.tokenize   # tokenize: sentence-transformers < 6
            feats = prep(texts)
            return torch.nn.functional.normalize(model(feats)["sentence_embedding"], dim=-1)

        q = emb([data.queries[t.qid] for t in batch])
        docs = [t.pos for t in batch] + [d for t in batch for d in t.negatives]
        d = emb([data.doc_text(i, doc_chars) for i in docs])
        scores = self.scale * q @ d.T                            # (b, b + n_neg)
        # a document that is some other query's positive too must not count as its negative
        same = torch.tensor([[docs[j] == t.pos and j != i for j in range(len(docs))]
                             for i, t in enumerate(batch)])
        scores = scores.masked_fill(same, float("-inf"))
        return torch.nn.functional.cross_entropy(scores, torch.arange(len(batch)))
