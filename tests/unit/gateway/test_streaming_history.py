"""The gateway's replay buffer for a streaming session: what it keeps, and what a re-open replays."""

from __future__ import annotations

import asyncio

from gateway.transport.relay import Relay
from gateway.transport.streaming import StreamingSession
from services.bus.sessions import AudioIn, Open, SessionEvent, Utterance, decode_request
from services.settings import GatewaySettings
from tests.support.fake_bus import FakeBus, FakeSession

CHUNK = b"\x01\x00" * 500  # 1000 bytes


def confirm_all(session: FakeSession, data: bytes) -> list[SessionEvent]:
    return [Utterance(start=0.0, end=0.0, confidence=1.0, confirmed=len(session.audio))]


async def _started(bus: FakeBus) -> Relay:
    relay = Relay(bus, GatewaySettings(gateway_id="gw-history"))
    await relay.start()
    for _ in range(200):
        if relay.healthy:
            return relay
        await asyncio.sleep(0.01)
    raise AssertionError("relay not healthy")


async def _reopened(bus: FakeBus, history_bytes: int) -> tuple[Open, bytes]:
    """Stream five confirmed chunks, let the worker die, and return the re-open and the audio it got."""
    relay = await _started(bus)
    try:
        session = StreamingSession(
            relay, "asr", {"sample_rate": 8000}, max_replay_bytes=10_000, history_bytes=history_bytes
        )
        await session.open()
        for _ in range(5):
            session.send(CHUNK)
        for _ in range(5):
            await asyncio.wait_for(session.events.get(), 5)
        sent_before = len(bus.requests)
        bus.sessions.clear()  # the worker holding it is gone: its lease is no longer held
        for _ in range(300):
            if session.reopens and any(r.kind == "open" for r in bus.requests[sent_before:]):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.1)
        later = bus.requests[sent_before:]
        opened = next(decode_request(r.kind, r.body) for r in later if r.kind == "open")
        assert isinstance(opened, Open)
        audio = b"".join(m.data for r in later if isinstance(m := decode_request(r.kind, r.body), AudioIn))
        session.abort()
        return opened, audio
    finally:
        await relay.stop()


async def test_a_reopen_replays_the_kept_history_from_before_the_last_result() -> None:
    opened, audio = await _reopened(FakeBus(on_audio=confirm_all), history_bytes=3000)
    # 5000 bytes confirmed; the last 3000 of them are kept and sent again, the first 2000 are not.
    assert (opened.resume.offset, opened.resume.replay_from) == (5000, 2000)
    assert audio == CHUNK * 3


async def test_without_history_only_what_follows_the_last_result_is_replayed() -> None:
    opened, audio = await _reopened(FakeBus(on_audio=confirm_all), history_bytes=0)
    assert (opened.resume.offset, opened.resume.replay_from) == (5000, 5000)
    assert audio == b""
