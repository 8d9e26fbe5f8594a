"""The typed messages of a streaming session, used by gateways and workers alike.

A session (audio in, events out) is opened on a capability's pool with :class:`Open`; the worker that
takes it answers :class:`Opened` with its inbox, and the gateway sends the rest there in order:
:class:`AudioIn`, then :class:`EndOfInput` (or :class:`Abort` when the client went away). Events come
back on the gateway's reply stream: :class:`Utterance`, :class:`ScrubbedAudio` or :class:`Result`, then
:class:`Done` (or :class:`Failed`). Every event carries ``index`` (events are numbered across the workers a session
lived on, so the gateway drops one it already delivered), and may carry ``confirmed`` (input bytes
final so far: the gateway replays only what lies after it) and ``checkpoint`` (engine state a re-opened
session continues from; never shown to a client).

On the wire each message is the envelope's ``kind`` and a msgpack-able ``body``; :func:`encode_request`,
:func:`decode_request`, :func:`encode_event` and :func:`decode_event` are the only translations, and a
body that does not decode raises :class:`MalformedEnvelope`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from services.bus.envelope import INTERNAL, MalformedEnvelope

# -- requests: gateway to worker ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Resume:
    """Where a re-opened session continues: 0/0/{} for a new one."""

    offset: int = 0  # input bytes already final: results start after them
    events: int = 0  # events already delivered; the new incarnation numbers on from here
    checkpoint: Mapping[str, Any] = field(default_factory=dict)
    # The input offset of the first byte the gateway sends (None: the offset). Earlier than the offset
    # when the gateway kept the stream's history: the worker runs it through its front end only, so the
    # rest is segmented exactly as the first worker would have.
    replay_from: int | None = None


@dataclass(frozen=True, slots=True)
class Open:
    """Open a session; ``params`` are the capability's own (validated by its handler, 400 when bad)."""

    params: Mapping[str, Any]
    resume: Resume = field(default_factory=Resume)
    kind: Literal["open"] = "open"


@dataclass(frozen=True, slots=True)
class AudioIn:
    data: bytes
    kind: Literal["audio"] = "audio"


@dataclass(frozen=True, slots=True)
class EndOfInput:
    """All input is in: the worker sends the last events, then :class:`Done`."""

    kind: Literal["end"] = "end"


@dataclass(frozen=True, slots=True)
class Abort:
    """The client went away: free the session now."""

    kind: Literal["abort"] = "abort"


SessionRequest = Open | AudioIn | EndOfInput | Abort
InboxFrame = AudioIn | EndOfInput | Abort


@dataclass(frozen=True, slots=True)
class Opened:
    """A worker's answer to :class:`Open`: where to send the session's frames, and who holds its lease."""

    inbox: str
    worker: str


def encode_request(message: SessionRequest) -> tuple[str, Any]:
    """(envelope kind, body) of a session request."""
    if isinstance(message, Open):
        resume = message.resume
        body: dict[str, Any] = {"offset": resume.offset, "events": resume.events, "checkpoint": dict(resume.checkpoint)}
        if resume.replay_from is not None:
            body["replay_from"] = resume.replay_from
        return message.kind, {"params": dict(message.params), "resume": body}
    if isinstance(message, AudioIn):
        return message.kind, message.data
    return message.kind, None


def decode_request(kind: str, body: Any) -> SessionRequest:
    if kind == "audio":
        if not isinstance(body, bytes):
            raise MalformedEnvelope("audio frame without bytes")
        return AudioIn(body)
    if kind == "end":
        return EndOfInput()
    if kind == "abort":
        return Abort()
    if kind == "open":
        if not isinstance(body, dict):
            raise MalformedEnvelope("open request without a body")
        params, resume = body.get("params") or {}, body.get("resume") or {}
        if not isinstance(params, dict) or not isinstance(resume, dict):
            raise MalformedEnvelope("open request: params and resume must be maps")
        offset, events, checkpoint = resume.get("offset", 0), resume.get("events", 0), resume.get("checkpoint")
        if not isinstance(offset, int) or not isinstance(events, int):
            raise MalformedEnvelope("open request: resume has fields of the wrong type")
        if not isinstance(checkpoint, dict):
            checkpoint = {}  # an unusable checkpoint costs accuracy, not the session: decode from scratch
        replay_from = resume.get("replay_from")
        if replay_from is not None and not isinstance(replay_from, int):
            raise MalformedEnvelope("open request: resume.replay_from must be an integer")
        return Open(params, Resume(offset, events, checkpoint, replay_from))
    raise MalformedEnvelope(f"unknown session request kind {kind!r}")


def encode_opened(opened: Opened) -> dict[str, str]:
    return {"type": "opened", "inbox": opened.inbox, "worker": opened.worker}


def decode_opened(body: Any) -> Opened:
    if not isinstance(body, dict) or not isinstance(body.get("inbox"), str) or not isinstance(body.get("worker"), str):
        raise MalformedEnvelope("opened reply without inbox and worker")
    return Opened(body["inbox"], body["worker"])


# -- events: worker to gateway -----------------------------------------------------------------

WordTiming = tuple[str, float, float, float]  # (word, start s, end s, confidence 0..1)


@dataclass(kw_only=True, slots=True)
class _Event:
    index: int = 0
    confirmed: int | None = None
    checkpoint: dict[str, Any] | None = None


@dataclass(kw_only=True, slots=True)
class Utterance(_Event):
    """A final utterance; times in seconds of the session's input timeline."""

    start: float
    end: float
    confidence: float
    words: list[WordTiming] = field(default_factory=list)
    kind: Literal["utterance"] = "utterance"


@dataclass(kw_only=True, slots=True)
class ScrubbedAudio(_Event):
    """The session's audio (PCM16 at the input rate) with personal words silenced; precedes its utterance."""

    pcm: bytes
    kind: Literal["audio"] = "audio"


@dataclass(kw_only=True, slots=True)
class Token(_Event):
    """Part of an answer as it is produced (knowledge base): Markdown text to append."""

    text: str
    kind: Literal["token"] = "token"


@dataclass(kw_only=True, slots=True)
class Result(_Event):
    """The answer to one input message of a stream that answers every message once (voice): a map whose
    shape belongs to the capability (services/voice)."""

    body: dict[str, Any]
    kind: Literal["result"] = "result"


@dataclass(kw_only=True, slots=True)
class Done(_Event):
    """The last event of a session that ended normally."""

    kind: Literal["done"] = "done"


@dataclass(kw_only=True, slots=True)
class Failed(_Event):
    """The session failed; ``message`` is safe to show the client (it quotes no payload)."""

    message: str
    status: int = INTERNAL
    kind: Literal["error"] = "error"


SessionEvent = Utterance | ScrubbedAudio | Token | Result | Done | Failed


def encode_event(event: SessionEvent) -> dict[str, Any]:
    body: dict[str, Any] = {"type": event.kind, "index": event.index}
    if event.confirmed is not None:
        body["confirmed"] = event.confirmed
    if event.checkpoint:
        body["checkpoint"] = event.checkpoint
    if isinstance(event, Utterance):
        body.update(start=event.start, end=event.end, confidence=event.confidence, words=[list(w) for w in event.words])
    elif isinstance(event, ScrubbedAudio):
        body["pcm"] = event.pcm
    elif isinstance(event, Token):
        body["text"] = event.text
    elif isinstance(event, Result):
        body["body"] = event.body
    elif isinstance(event, Failed):
        body.update(message=event.message, status=event.status)
    return body


def decode_event(body: Any) -> SessionEvent:
    if not isinstance(body, dict):
        raise MalformedEnvelope("session event is not a map")
    try:
        common: dict[str, Any] = {"index": int(body.get("index", 0))}
        if isinstance(body.get("confirmed"), int):
            common["confirmed"] = body["confirmed"]
        if isinstance(body.get("checkpoint"), dict):
            common["checkpoint"] = body["checkpoint"]
        kind = body.get("type")
        if kind == "utterance":
            words = [(str(w[0]), float(w[1]), float(w[2]), float(w[3])) for w in body.get("words", [])]
            return Utterance(
                start=float(body["start"]),
                end=float(body["end"]),
                confidence=float(body["confidence"]),
                words=words,
                **common,
            )
        if kind == "audio" and isinstance(body.get("pcm"), bytes):
            return ScrubbedAudio(pcm=body["pcm"], **common)
        if kind == "token" and isinstance(body.get("text"), str):
            return Token(text=body["text"], **common)
        if kind == "result" and isinstance(body.get("body"), dict):
            return Result(body=body["body"], **common)
        if kind == "done":
            return Done(**common)
        if kind == "error":
            return Failed(
                message=str(body.get("message", "session failed")), status=int(body.get("status", INTERNAL)), **common
            )
    except (KeyError, TypeError, ValueError, IndexError):
        raise MalformedEnvelope(f"session event {body.get('type')!r} has missing or bad fields") from None
    raise MalformedEnvelope(f"unknown session event {body.get('type')!r}")
