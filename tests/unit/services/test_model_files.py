"""Pinned model files: the voice and knowledge-base models refuse a file that is missing or altered."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.kb.embedder import KbModelError
from services.model_files import pinned, sha256_file
from services.voice.encoder import DVectorEncoder, VoiceModelError


def test_a_file_with_its_pinned_digest_is_given_back(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    assert pinned(model, sha256_file(model), "the model", KbModelError) == model


def test_an_altered_or_missing_file_is_refused_naming_it(tmp_path: Path) -> None:
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights, truncated")
    with pytest.raises(VoiceModelError, match=r"the speaker model .*model[.]bin. has SHA-256 .*, expected 00"):
        pinned(model, "00" * 32, "the speaker model", VoiceModelError)
    with pytest.raises(KbModelError, match="cannot read the embedding model"):
        pinned(tmp_path / "absent.bin", "00" * 32, "the embedding model", KbModelError)


def test_a_file_that_is_not_an_onnx_model_stops_the_voice_encoder(tmp_path: Path) -> None:
    bad = tmp_path / "embedder.onnx"
    bad.write_bytes(b"\x00" * 1024)
    with pytest.raises(VoiceModelError, match="not a loadable speaker model"):
        DVectorEncoder(bad)
