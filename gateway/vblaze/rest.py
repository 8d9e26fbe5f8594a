"""V-Blaze compatible REST ``POST /transcribe``: one file in, one transcript out (now, or to a callback).

Tags as on the WebSocket (query string or ``X-Voci-*`` headers, :func:`parse_tags`). The audio is the
request body, or the multipart field ``file``; it is decoded here to mono PCM16 (:class:`AudioDecoder`).

- Without ``callback``: the PCM streams through a :class:`StreamingSession` to the ASR worker pool,
  exactly as the WebSocket's does, and the answer is 200 with the transcript (``output=json``: JSON,
  ``output=text``: plain text). ``utterance_callback`` gets each utterance as it is final.
- With ``callback``: the PCM is stored in Redis (``job:{<id>}:audio``, with a TTL), ``transcribe_job``
  is enqueued for the batch worker, and the answer is 202 ``{"requestid": "<id>", "status": "queued"}``
  at once. The transcript is POSTed to the callback (header ``X-Voci-Requestid``) when it is done; a
  job that fails POSTs ``{"requestid", "status": "failed", "error"}`` instead.

Errors are JSON ``{"error": "<what is wrong>", "status": <code>}`` (plus ``tag`` and ``value`` for a
bad tag): 400 for tags and audio, 401, 413 for a body over ``MAX_BODY_BYTES``, 503 when no worker or
broker can take the work, 504 when the transcript takes too long. Choices where the vendor is silent:
``outstream`` has no meaning for one HTTP answer and is ignored; ``scrubaudio`` is refused (a REST
answer carries no audio), as is ``scrubtext`` with ``callback`` (batch jobs do not redact yet, and a
transcript silently left unredacted would be worse than an error).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType

from aiohttp import BodyPartReader, web

from gateway.middleware import Guard, guard
from gateway.state import STATE, GatewayState
from gateway.transport.batch import EnqueueError
from gateway.transport.streaming import SessionError, StreamingSession
from gateway.vblaze.callbacks import post_utterance
from gateway.vblaze.errors import TagError, VBlazeError
from gateway.vblaze.render import UtteranceResult, content_type, render_transcript
from gateway.vblaze.tags import Tags, parse_tags
from gateway.vblaze.wire import AudioDecoder
from gateway.vblaze.ws import session_params, utterance_result
from services import metrics
from services.bus.envelope import BAD_REQUEST, new_id
from services.bus.jobs import TRANSCRIBE_JOB
from services.bus.sessions import Done, Failed, Utterance

log = logging.getLogger("gateway.vblaze.rest")

PROTOCOL = "vblaze_rest"
CAPABILITY = "asr"
# Audio goes to the worker in pieces of 2 s at 16 kHz: small stream entries, few of them.
_CHUNK_BYTES = 64 * 1024


class _HttpError(Exception):
    def __init__(self, status: int, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status = status
        self.body: dict[str, object] = {"error": message, "status": status, **extra}


@dataclass(frozen=True)
class _Audio:
    """One request's decoded audio and what its transcript needs."""

    tags: Tags
    pcm: bytes  # mono PCM16 LE
    rate: int
    seconds: float
    recvdate: datetime


def _now() -> datetime:
    return datetime.now(UTC)


async def transcribe(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        recvdate = _now()
        tags = _tags(request)
        pcm, rate, seconds = _decode(tags, await _audio(request, state.settings.max_body_bytes))
        audio = _Audio(tags, pcm, rate, seconds, recvdate)
        if tags.callback is not None:
            return await _queue_job(state, audio)
        return await _transcribe_now(state, audio)
    except _HttpError as exc:
        metrics.ERRORS.labels(PROTOCOL, str(exc.status)).inc()
        return web.json_response(exc.body, status=exc.status)


def _tags(request: web.Request) -> Tags:
    try:
        tags = parse_tags(request.query, request.headers)
    except TagError as exc:
        raise _HttpError(400, exc.reason, tag=exc.tag, value=exc.value) from None
    if tags.scrubaudio:
        raise _HttpError(
            400,
            "Tag 'scrubaudio' is not supported on REST /transcribe: use the WebSocket.",
            tag="scrubaudio",
            value="true",
        )
    if tags.scrubtext and tags.callback is not None:
        raise _HttpError(
            400, "Tag 'scrubtext' is not supported with 'callback' (batch jobs) yet.", tag="scrubtext", value="true"
        )
    return tags


async def _audio(request: web.Request, limit: int) -> bytes:
    """The body, or the multipart field ``file``."""
    if not request.content_type.startswith("multipart/"):
        return await request.read()  # aiohttp answers 413 past client_max_size (MAX_BODY_BYTES)
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if isinstance(part, BodyPartReader) and part.name == "file":
            data = bytearray()
            while chunk := await part.read_chunk():
                data += chunk
                if len(data) > limit:
                    raise _HttpError(413, f"the file is larger than {limit} bytes")
            return bytes(data)
    raise _HttpError(400, "multipart body has no field 'file': send the audio as the body or as field 'file'")


def _decode(tags: Tags, audio: bytes) -> tuple[bytes, int, float]:
    """(mono PCM16, sample rate, seconds) or 400 naming what is wrong with the audio."""
    decoder = AudioDecoder(tags)
    try:
        pcm = decoder.feed(audio) + decoder.finish()
    except VBlazeError as exc:
        raise _HttpError(400, exc.reason) from None
    assert decoder.sample_rate is not None  # finish() raises when the WAVE header never completed
    return pcm, decoder.sample_rate, decoder.audio_seconds


def _answer(tags: Tags, text: str, status: int = 200) -> web.Response:
    metrics.MESSAGES.labels(PROTOCOL, "out").inc()
    return web.Response(body=text.encode(), status=status, headers={"Content-Type": content_type(tags)})


# --- without callback: stream to the ASR pool and answer with the transcript -------------------------


async def _transcribe_now(state: GatewayState, audio: _Audio) -> web.Response:
    tags, pcm, recvdate = audio.tags, audio.pcm, audio.recvdate
    utterances: list[UtteranceResult] = []
    if pcm:
        params = session_params(tags, audio.rate, scrubaudio=False)
        # The whole file is in memory already; the replay buffer may hold all of it.
        stream = StreamingSession(
            state.relay, CAPABILITY, params, max_replay_bytes=len(pcm) + 1, history_bytes=len(pcm) + 1
        )
        try:
            await stream.open()
        except SessionError as exc:
            raise _HttpError(400 if exc.status == BAD_REQUEST else 503, exc.message) from None
        finished = False
        try:
            for i in range(0, len(pcm), _CHUNK_BYTES):
                stream.send(pcm[i : i + _CHUNK_BYTES])
                await asyncio.sleep(0)  # let the relay's writer send as we go, not all in one pipeline
            stream.end()
            # Recognition runs faster than real time; allow the audio's length on top of the usual timeout.
            deadline = asyncio.get_running_loop().time() + state.settings.request_timeout_s + audio.seconds
            while True:
                remaining = deadline - asyncio.get_running_loop().time()
                try:
                    event = await asyncio.wait_for(stream.events.get(), max(remaining, 0.001))
                except TimeoutError:
                    raise _HttpError(504, "transcription took too long") from None
                if isinstance(event, Utterance):
                    utterances.append(utterance_result(event, recvdate))
                    post_utterance(state.batch, tags, tags.utterance_callback, utterances[-1], len(utterances) - 1)
                elif isinstance(event, Done):
                    finished = True
                    break
                elif isinstance(event, Failed):
                    raise _HttpError(503, event.message)
        finally:
            if finished:
                stream.close()
            else:
                stream.abort()  # free the worker's session now
    # The transcript's source says how it came ("rest"), unless the client named one.
    shown = dataclasses.replace(tags, extra=MappingProxyType({"source": "rest", **tags.extra}))
    text = render_transcript(utterances, tags=shown, audiosecs=audio.seconds, recvdate=recvdate, donedate=_now())
    return _answer(tags, text)


# --- with callback: a batch job --------------------------------------------------------------------


async def _queue_job(state: GatewayState, audio: _Audio) -> web.Response:
    tags, batch, relay = audio.tags, state.batch, state.relay
    if batch is None:
        raise _HttpError(503, "batch jobs are not available on this gateway")
    job_id = new_id()
    params = {
        "output": tags.output,
        "model": tags.model,
        "source": tags.extra.get("source", "rest"),
        "recvdate": audio.recvdate.isoformat(),
        "utterance_callback": tags.utterance_callback,
    }
    try:
        await relay.store_job_audio(job_id, audio.pcm, state.settings.batch.job_audio_ttl_s)
    except Exception as exc:  # Redis down or full: nothing was queued
        log.warning("job audio not stored", extra={"job_id": job_id, "error": type(exc).__name__})
        raise _HttpError(503, "service unavailable: could not store the audio") from None
    try:
        await batch.enqueue("job", TRANSCRIBE_JOB, [job_id, audio.rate, params, tags.callback], task_id=job_id)
    except EnqueueError as exc:
        with contextlib.suppress(Exception):
            await relay.discard_job_audio(job_id)
        log.warning("job not queued", extra={"job_id": job_id, "error": str(exc)})
        raise _HttpError(503, "service unavailable: the job queue is unreachable") from None
    log.info("job queued", extra={"job_id": job_id, "audio_s": round(audio.seconds, 2)})
    return web.json_response({"requestid": job_id, "status": "queued"}, status=202)


def _refuse(status: int, message: str) -> web.StreamResponse:
    return web.json_response({"error": message, "status": status}, status=status)


def add_routes(app: web.Application) -> None:
    route = app.router.add_post("/transcribe", transcribe)
    guard(
        app,
        route,
        Guard(PROTOCOL, _refuse, unauthorized="missing or invalid API key", draining="gateway is draining; retry"),
    )
