"""The numpy MiniLM encoder against vectors sentence-transformers computed (no torch needed here), and
its refusal of a model that is not the pinned one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from scripts.eval_kb import REFERENCE
from services.kb import embedder as emb
from services.kb.embedder import KbModelError, MiniLmEmbedder


def test_matches_sentence_transformers_reference(embedder: MiniLmEmbedder) -> None:
    rows = json.loads(REFERENCE.read_text())["rows"]
    vectors = embedder.encode([r["text"] for r in rows])
    assert vectors.shape == (4, 384) and vectors.dtype == np.float32
    for row, vector in zip(rows, vectors, strict=True):
        assert np.abs(vector[:8] - np.asarray(row["first8"])).max() < 1e-5
        assert abs(float(np.linalg.norm(vector)) - row["norm"]) < 1e-5
        assert abs(float(vector.sum()) - row["sum"]) < 1e-4


def test_batching_and_padding_do_not_change_a_vector(embedder: MiniLmEmbedder) -> None:
    texts = ["short one", "a much longer sentence that needs padding of the short one in its batch", "mid size"]
    together = embedder.encode(texts)
    alone = np.stack([embedder.encode([t])[0] for t in texts])
    assert np.abs(together - alone).max() < 1e-5
    assert embedder.encode([]).shape == (0, 384)


def test_refuses_an_altered_or_missing_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(emb, "WEIGHTS_SHA256", "0" * 64)
    with pytest.raises(KbModelError, match="refusing to load"):
        emb.packaged_model()
    with pytest.raises(KbModelError, match="cannot read"):
        emb._checked(tmp_path / "model.safetensors", "0" * 64)
    monkeypatch.setattr(emb, "MODEL_PACKAGE", "no_such_model_package_here")
    with pytest.raises(KbModelError, match="not installed"):
        emb.packaged_model()
