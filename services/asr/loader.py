"""Load the engine the configuration names (``AsrSettings``: ASR_ENGINE, ASR_DECODERS)."""

from __future__ import annotations

from pathlib import Path

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

        return PocketsphinxEngine(preload=settings.decoders)
    if settings.engine == "vosk":
        from .vosk_engine import VoskEngine

        return VoskEngine(_model_dir(settings))
    if settings.engine == "whisper":
        from .whisper_engine import WhisperEngine

        return WhisperEngine(_model_dir(settings), numbers=settings.numbers)
    if settings.engine == "whisper-tiny":
        from .whisper_engine import WhisperEngine, packaged_tiny_en

        return WhisperEngine(packaged_tiny_en(), numbers=settings.numbers)
    raise AsrConfigError(f"Config 'ASR_ENGINE' has value '{settings.engine}': not an engine this build knows")
