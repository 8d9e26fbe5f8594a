"""Audio helpers shared by the /transcribe tests: the committed fixtures, WAV packing, a V-Blaze client."""

from __future__ import annotations

import io
import wave

import websocket

from tests.support import DATA

ASR_DATA = DATA / "asr"
SILENCE_1S = b"\x00\x00" * 16000


def pcm_of(name: str) -> bytes:
    """The PCM16 frames of a committed fixture."""
    with wave.open(str(ASR_DATA / name)) as w:
        frames: bytes = w.readframes(w.getnframes())
        return frames


def wav(pcm: bytes, rate: int = 16000, channels: int = 1) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)
    return out.getvalue()


def transcribe_stream(
    url: str, audio: bytes, chunk: int = 4000, header: list[str] | None = None
) -> tuple[list[tuple[int, bytes]], int | None]:
    """What a V-Blaze client does: send audio in chunks then the end marker; return every message the
    server sent (opcode, data) and its close code."""
    ws = websocket.WebSocket()
    ws.connect(url, timeout=60, header=header or [])
    for i in range(0, len(audio), chunk):
        ws.send_binary(audio[i : i + chunk])
    ws.send_binary(b"")
    messages: list[tuple[int, bytes]] = []
    code = None
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            code = int.from_bytes(data[:2], "big") if data else None
            break
        messages.append((opcode, data))
    ws.shutdown()
    return messages, code
