"""Choose and load the engine from configuration.

ASR_ENGINE = pocketsphinx (default) | vosk:<model dir> | whisper:<model dir>
ASR_DECODERS = pocketsphinx decoders loaded at start (default 2; more are loaded as concurrent utterances need)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from .types import AsrConfigError, AsrEngine

VARIABLE = "ASR_ENGINE"
DEFAULT = "pocketsphinx"
DECODERS_VARIABLE = "ASR_DECODERS"
DEFAULT_DECODERS = 2


def _model_dir(kind: str, value: str, raw: str) -> Path:
    if not value:
        raise AsrConfigError(f"Config {VARIABLE!r} has value {raw!r}: {kind} needs a model directory ({kind}:<dir>)")
    path = Path(value).expanduser()
    if not path.is_dir():
        raise AsrConfigError(f"Config {VARIABLE!r} has value {raw!r}: model directory {str(path)!r} does not exist")
    return path


def _decoders(env: Mapping[str, str]) -> int:
    raw = env.get(DECODERS_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_DECODERS
    if not raw.isdigit() or not 1 <= int(raw) <= 64:
        raise AsrConfigError(f"Config {DECODERS_VARIABLE!r} has value {raw!r}: expected a whole number from 1 to 64")
    return int(raw)


def load_engine(env: Mapping[str, str]) -> AsrEngine:
    raw = env.get(VARIABLE, "").strip() or DEFAULT
    kind, _, value = raw.partition(":")
    kind = kind.strip().lower()
    if kind == "pocketsphinx":
        if value:
            raise AsrConfigError(f"Config {VARIABLE!r} has value {raw!r}: pocketsphinx takes no argument")
        from .sphinx import PocketsphinxEngine

        return PocketsphinxEngine(preload=_decoders(env))
    if kind == "vosk":
        from .vosk_engine import VoskEngine

        return VoskEngine(_model_dir(kind, value.strip(), raw))
    if kind == "whisper":
        from .whisper_engine import WhisperEngine

        return WhisperEngine(_model_dir(kind, value.strip(), raw))
    raise AsrConfigError(
        f"Config {VARIABLE!r} has value {raw!r}: expected pocketsphinx, vosk:<model dir> or whisper:<model dir>"
    )
