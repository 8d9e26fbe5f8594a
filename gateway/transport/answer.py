"""The gateway's side of a streamed answer: one request to a pool, then numbered events until the last.

The worker that takes the request publishes :class:`Token` events as the answer is produced and one
:class:`Result` (or :class:`Failed`) at the end, numbered from 0. If it dies mid-answer the request stays
pending in the consumer group and another worker reclaims it and answers again from the start; events
whose number was already delivered are dropped here, so the client sees every token once and exactly one
end. If Redis was unreachable or restarted meanwhile, the request (or its answer) may be gone: the
question is asked again under the same id once the bus is back, answered from the start, and deduplicated
the same way. No protocol in here: gateway/ai12z/ renders the events as Socket.IO emits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from gateway.transport.relay import Relay
from services.bus.envelope import REQUEST_TIMEOUT, MalformedEnvelope, Reply, new_id
from services.bus.sessions import Failed, Result, SessionEvent, Token, decode_event

log = logging.getLogger("gateway.answer")
_BUS_CHECK_S = 0.5  # how often a question waiting for its answer looks whether the bus had an outage


async def streamed_answer(
    relay: Relay, capability: str, kind: str, body: dict[str, Any], timeout_s: float
) -> AsyncIterator[Token | Result | Failed]:
    """Tokens as they come, then one Result or Failed (also when the deadline passes or the bus fails)."""
    session = new_id()
    replies: asyncio.Queue[Reply] = asyncio.Queue()
    relay.route_session(session, replies.put_nowait)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    delivered = 0
    try:
        relay.post(capability, session, kind, body, timeout_s)
        asked_in = relay.bus_epoch
        while True:
            left = deadline - loop.time()
            if left <= 0:
                yield Failed(message=f"no answer within {timeout_s:g} s; try again", status=REQUEST_TIMEOUT)
                return
            try:
                reply = await asyncio.wait_for(replies.get(), min(left, _BUS_CHECK_S))
            except TimeoutError:
                if relay.bus_epoch != asked_in and relay.healthy:
                    asked_in = relay.bus_epoch
                    relay.post(capability, session, kind, body, max(0.0, deadline - loop.time()))
                continue
            try:
                event: SessionEvent = decode_event(reply.body)
            except MalformedEnvelope as exc:
                log.error("undecodable answer event", extra={"error": str(exc)})
                yield Failed(message="internal error: the worker sent an undecodable event")
                return
            if event.index < delivered:
                continue  # a reclaimed request answered again from the start: already delivered
            delivered = event.index + 1
            if isinstance(event, Token | Result | Failed):
                yield event
                if not isinstance(event, Token):
                    return
    finally:
        with contextlib.suppress(Exception):
            relay.forget_session(session)
