"""Streaming speech recognition: a plain library behind a small typed interface.

    engine = load_engine(AsrSettings.from_env())   # ASR_ENGINE=whisper-tiny | pocketsphinx | vosk:<dir> | whisper:<dir>
    stream = engine.open_stream(sample_rate=8000)
    for utt in stream.feed(pcm_bytes): ...    # utterances final with this audio
    for utt in stream.finish(): ...

Never log audio or transcript text: both are personal data.
"""

from .loader import load_engine
from .types import AsrConfigError, AsrEngine, AsrError, AsrStream, StreamClosedError, Utterance, Word

__all__ = [
    "AsrConfigError",
    "AsrEngine",
    "AsrError",
    "AsrStream",
    "StreamClosedError",
    "Utterance",
    "Word",
    "load_engine",
]
