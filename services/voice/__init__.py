"""Voice engines (IDVoice-compatible semantics, no protocol): the speech front end (resampling and VAD
in 30 ms frames), speech summary, speech endpoint, speaker templates and streaming verification.

Importable without Redis; the speaker encoder needs onnxruntime and is loaded only by voice workers.
"""
