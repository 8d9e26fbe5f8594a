"""Load the engine the configuration names (``AsrSettings``: ASR_ENGINE, ASR_DECODERS)."""

from __future__ import annotations

from pathlib import Path

from services.audio.vad import VadConfig
from services.settings import AsrSettings

from .types import AsrConfigError, AsrEngine


def _model_dir(settings: AsrSettings) -> Path:
    path = Path(settings.model_dir).expanduser()
    if not path.is_dir():
        raise AsrConfigError(
            f"Config 'ASR_ENGINE' has value '{settings.engine}:{settings.model_dir}': model directory"
            f" {str(path)!r} does not exist"
        )
    return path


def load_engine(settings: AsrSettings) -> AsrEngine:
    if settings.engine == "pocketsphinx":
        from .sphinx import PocketsphinxEngine

        # Its defaults were tuned with webrtcvad's segments (ASR_VAD=silero swaps them in).
        sphinx_vad = VadConfig(engine="silero" if settings.vad == "silero" else "webrtc")
        return PocketsphinxEngine(vad=sphinx_vad, preload=settings.decoders)
    if settings.engine == "vosk":
        from .vosk_engine import VoskEngine

        return VoskEngine(_model_dir(settings))
    # Whisper decodes whatever a segment holds, noise included: it gets silero's segments by default.
    vad = VadConfig(engine="webrtc" if settings.vad == "webrtc" else "silero")
    if settings.engine in {"whisper", "whisper-tiny"}:
        from .whisper_engine import WhisperEngine, packaged_tiny_en

        model = packaged_tiny_en() if settings.engine == "whisper-tiny" else _model_dir(settings)
        return WhisperEngine(
            model, vad=vad, numbers=settings.numbers, cpu_threads=settings.threads, batch=settings.batch
        )
    raise AsrConfigError(f"Config 'ASR_ENGINE' has value '{settings.engine}': not an engine this build knows")
