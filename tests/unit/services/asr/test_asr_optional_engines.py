"""Vosk and faster-whisper behind the same interface. Their packages and models are optional: these tests
skip (the one place a skip is accepted) unless the package is installed and ASR_TEST_VOSK_MODEL /
ASR_TEST_WHISPER_MODEL names a model directory. The error paths are tested always."""

from __future__ import annotations

import importlib.util
import json
import os
import wave
from pathlib import Path

import pytest

from scripts.eval_asr import normalise
from services.asr import AsrConfigError, load_engine
from services.asr.vosk_engine import parse_result
from services.settings import AsrSettings
from tests.support import DATA as SUPPORT_DATA

DATA = SUPPORT_DATA / "asr"


def _model_or_skip(package: str, variable: str) -> str:
    if importlib.util.find_spec(package) is None:
        pytest.skip(f"the optional package {package!r} is not installed")
    path = os.environ.get(variable, "")
    if not path or not Path(path).is_dir():
        pytest.skip(f"{variable} does not name a model directory")
    return path


@pytest.mark.parametrize(("package", "kind"), [("vosk", "vosk"), ("faster_whisper", "whisper")])
def test_missing_package_or_model_is_a_clear_error(tmp_path: Path, package: str, kind: str) -> None:
    with pytest.raises(ValueError, match="ASR_ENGINE"):
        load_engine(AsrSettings.from_env({"ASR_ENGINE": f"{kind}:{tmp_path / 'absent'}"}))
    # An existing but empty directory: the package is missing, or the directory is not a model.
    with pytest.raises(AsrConfigError, match="ASR_ENGINE"):
        load_engine(AsrSettings.from_env({"ASR_ENGINE": f"{kind}:{tmp_path}"}))


def test_vosk_result_parsing() -> None:
    raw = json.dumps(
        {
            "result": [
                {"conf": 0.9, "start": 1.0, "end": 1.3, "word": "hello"},
                {"conf": 1.2, "start": 1.3, "end": 1.7, "word": "there"},
            ],
            "text": "hello there",
        }
    )
    utt = parse_result(raw)
    assert utt is not None
    assert (utt.start, utt.end, utt.text) == (1.0, 1.7, "hello there")
    assert utt.words[1].confidence == 1.0
    assert parse_result('{"text": ""}') is None


@pytest.mark.parametrize(
    ("package", "variable", "kind"),
    [
        ("vosk", "ASR_TEST_VOSK_MODEL", "vosk"),
        ("faster_whisper", "ASR_TEST_WHISPER_MODEL", "whisper"),
    ],
)
def test_optional_engine_transcribes_the_fixture(package: str, variable: str, kind: str) -> None:
    model = _model_or_skip(package, variable)
    engine = load_engine(AsrSettings.from_env({"ASR_ENGINE": f"{kind}:{model}"}))
    with wave.open(str(DATA / "kal_16k_card.wav"), "rb") as w:
        pcm = w.readframes(w.getnframes())
    stream = engine.open_stream(16000)
    utts = [u for i in range(0, len(pcm), 3001) for u in stream.feed(pcm[i : i + 3001])] + stream.finish()
    words = normalise(" ".join(u.text for u in utts))
    assert {"check", "credit", "card"} <= set(words)
    for u in utts:
        assert all(u.start <= w.start <= w.end <= u.end + 1e-6 for w in u.words)


def test_the_packaged_whisper_tiny_transcribes_both_fixtures() -> None:
    # The asr extra carries Whisper tiny.en: no skip, a missing package fails here.
    engine = load_engine(AsrSettings.from_env({"ASR_ENGINE": "whisper-tiny"}))
    heard = []
    for name in ("kal_16k_card.wav", "slt_16k_order.wav"):
        with wave.open(str(DATA / name), "rb") as w:
            pcm = w.readframes(w.getnframes())
        stream = engine.open_stream(16000)
        utts = [u for i in range(0, len(pcm), 3200) for u in stream.feed(pcm[i : i + 3200])] + stream.finish()
        heard.append(set(normalise(" ".join(u.text for u in utts))))
        assert all(0.0 <= w.confidence <= 1.0 for u in utts for w in u.words)
    assert {"credit", "card"} <= heard[0]
    assert {"order"} <= heard[1]


def test_weights_that_are_not_the_published_ones_are_refused(tmp_path: Path) -> None:
    from services.asr.whisper_engine import TINY_EN_SHA256, verify_weights

    fake = tmp_path / "model.bin"
    fake.write_bytes(b"not the model")
    with pytest.raises(AsrConfigError, match=r"ASR_ENGINE.*SHA-256"):
        verify_weights(fake, TINY_EN_SHA256)
    with pytest.raises(AsrConfigError, match="cannot read"):
        verify_weights(tmp_path / "absent.bin", TINY_EN_SHA256)


def test_whisper_tiny_takes_no_directory() -> None:
    with pytest.raises(ValueError, match="whisper-tiny takes no argument"):
        AsrSettings.from_env({"ASR_ENGINE": "whisper-tiny:/models"})
