"""IDVoice REST: voice templates from samples or a WAV file, matching two templates, and the speech
summary of a WAV file. Errors are ``{"error": ...}`` with a 4xx/5xx status; every answer carries the
CORS headers of gateway/idvoice/cors.py."""

from __future__ import annotations

from aiohttp import web

from gateway.idvoice.cors import cors_headers, preflight, refuse
from gateway.middleware import Guard, guard
from gateway.state import STATE
from services import metrics
from services.audio.wave import AudioDecoder, AudioError
from services.bus.envelope import OK, new_id
from services.voice.params import MAX_RATE, MIN_RATE

PROTOCOL = "idvoice_rest"
REQUESTS = "voice_requests"
FROM_SAMPLES = "/voice_template_factory/create_voice_template_from_samples"
FROM_FILE = "/voice_template_factory/create_voice_template_from_file"
MATCH = "/voice_template_matcher/match_voice_templates"
SUMMARY = "/speech_summary_engine/get_speech_summary_from_file"
PATHS = (FROM_SAMPLES, FROM_FILE, MATCH, SUMMARY)


class _BadRequest(Exception):
    pass


async def _ask(request: web.Request, kind: str, body: dict[str, object]) -> web.StreamResponse:
    relay = request.app[STATE].relay
    metrics.MESSAGES.labels(PROTOCOL, "in").inc()
    reply = await relay.submit(REQUESTS, new_id(), kind, body)
    metrics.MESSAGES.labels(PROTOCOL, "out").inc()
    if reply.status != OK:
        metrics.ERRORS.labels(PROTOCOL, str(reply.status)).inc()
        return refuse(reply.status, str(reply.body))
    if isinstance(reply.body, str):
        return web.Response(text=reply.body, content_type="text/plain")
    return web.json_response(reply.body)


async def _wav(request: web.Request) -> tuple[bytes, int]:
    """The mono PCM16 of a WAV file: multipart field ``wav_file`` or the whole body."""
    if request.content_type.startswith("multipart/"):
        form = await request.post()
        field = form.get("wav_file")
        if not isinstance(field, web.FileField):
            raise _BadRequest("send the WAV file as the multipart field 'wav_file'")
        data = field.file.read()
    else:
        data = await request.read()
    if not data:
        raise _BadRequest("the WAV file is empty")
    decoder = AudioDecoder()
    try:
        pcm = decoder.feed(data) + decoder.finish()
    except AudioError as exc:
        raise _BadRequest(str(exc)) from None
    if not pcm or decoder.sample_rate is None:
        raise _BadRequest("the WAV file holds no audio")
    return pcm, decoder.sample_rate


async def from_samples(request: web.Request) -> web.StreamResponse:
    if request.content_type != "application/octet-stream":
        return refuse(400, "send the PCM16 samples with Content-Type: application/octet-stream")
    try:
        rate = int(request.query.get("sample_rate", ""))
    except ValueError:
        return refuse(400, "sample_rate: a query parameter in Hz is required")
    if not MIN_RATE <= rate <= MAX_RATE:
        return refuse(400, f"sample_rate must be from {MIN_RATE} to {MAX_RATE}")
    pcm = await request.read()
    if len(pcm) < 2:
        return refuse(400, "the request body holds no PCM16 samples")
    return await _ask(request, "enrol", {"pcm": pcm, "sample_rate": rate})


async def _of_wav(request: web.Request, kind: str) -> web.StreamResponse:
    try:
        pcm, rate = await _wav(request)
    except _BadRequest as exc:
        return refuse(400, str(exc))
    return await _ask(request, kind, {"pcm": pcm, "sample_rate": rate})


async def from_file(request: web.Request) -> web.StreamResponse:
    return await _of_wav(request, "enrol")


async def summary(request: web.Request) -> web.StreamResponse:
    return await _of_wav(request, "summary")


async def match(request: web.Request) -> web.StreamResponse:
    if request.content_type != "application/json":
        return refuse(400, 'send {"template1": ..., "template2": ...} with Content-Type: application/json')
    try:
        body = await request.json()
    except ValueError:
        return refuse(400, "the request body is not valid JSON")
    if not isinstance(body, dict):
        return refuse(400, "the request body must be a JSON object")
    return await _ask(request, "match", {"template1": body.get("template1"), "template2": body.get("template2")})


async def _with_cors(request: web.Request, response: web.StreamResponse) -> None:
    if request.path in PATHS:
        cors_headers(request, response)


def add_routes(app: web.Application) -> None:
    how = Guard(PROTOCOL, refuse)
    for path, handler in ((FROM_SAMPLES, from_samples), (FROM_FILE, from_file), (MATCH, match), (SUMMARY, summary)):
        guard(app, app.router.add_post(path, handler), how)
        app.router.add_route("OPTIONS", path, preflight)  # a preflight carries no credentials: unguarded
    app.on_response_prepare.append(_with_cors)
