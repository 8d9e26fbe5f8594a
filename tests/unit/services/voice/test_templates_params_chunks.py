"""Voice templates, stream parameters and the gateway-to-worker chunks: what is accepted and why not."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from gateway.idvoice.phase import ParameterPhase
from services.bus.envelope import MalformedEnvelope
from services.voice.chunks import Chunk, ChunkKind, decode_chunk, encode_chunk
from services.voice.params import parse_stream_params
from services.voice.templates import Template, TemplateError, parse_template


def template(encoder: str = "enc-1") -> Template:
    vectors = np.array([[0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
    return Template(encoder, vectors)


def test_a_template_survives_its_text_form() -> None:
    back = parse_template(template().to_text(), "enc-1")
    assert back.encoder == "enc-1"
    np.testing.assert_array_equal(back.vectors, template().vectors)


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("not base64 at all!", "not base64"),
        (base64.b64encode(b"RIFF0000WAVE").decode(), "not a voice template"),
        (base64.b64encode(b"RTVT\x02\x00").decode(), "version 2"),
        (template().to_text()[:-8], "truncated"),
    ],
)
def test_text_that_is_not_our_template_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(TemplateError, match=why):
        parse_template(text)


def test_a_template_from_another_encoder_is_never_compared() -> None:
    with pytest.raises(TemplateError, match="made by encoder 'enc-1'"):
        parse_template(template().to_text(), "enc-2")


def test_chunks_round_trip_and_a_malformed_one_is_refused() -> None:
    for chunk in (Chunk(ChunkKind.AUDIO, b"\x01\x02" * 3), Chunk(ChunkKind.AUDIO), Chunk(ChunkKind.BAD_PACKET)):
        encoded = encode_chunk(chunk)
        assert len(encoded) % 2 == 0  # the replay buffer cuts on any chunk boundary
        assert decode_chunk(encoded) == chunk
    for bad in (b"", b"\x00", b"\x09\x00", b"\x00\x00\x01"):
        with pytest.raises(MalformedEnvelope):
            decode_chunk(bad)


def offer_all(phase: ParameterPhase, *texts: str) -> list[str | None]:
    return [phase.offer(t) for t in texts]


@pytest.mark.parametrize("bad", ["abc", "-16000", "0", "1000000000", "16000.5", "nan", "inf", ""])
def test_a_bad_sample_rate_is_refused_and_a_corrected_one_then_accepted(bad: str) -> None:
    phase = ParameterPhase("summary")
    assert phase.offer(bad) is not None
    assert not phase.complete
    assert phase.offer("16000") is None
    assert phase.complete and phase.params().rate == 16000


def test_opus_streams_take_only_the_rates_an_opus_decoder_produces() -> None:
    assert ParameterPhase("summary", opus=True).offer("44100") is not None
    assert ParameterPhase("summary", opus=True).offer("48000") is None


def test_endpoint_parameters_in_the_published_order() -> None:
    phase = ParameterPhase("endpoint")
    first, refused, corrected, rate = offer_all(phase, "1000", "-5", "600", "8000")
    assert first is None and corrected is None and rate is None
    assert refused is not None and "silence after speech" in refused
    params = phase.params()
    assert (params.min_speech_ms, params.silence_ms, params.rate) == (1000, 600, 8000)


def test_verify_four_parameters_and_a_window_longer_than_the_context_refused() -> None:
    phase = ParameterPhase("verify")
    assert offer_all(phase, template().to_text(), "16000", "10") == [None, None, None]
    assert phase.ready_for_audio and not phase.complete  # the older three-parameter form may start now
    assert phase.offer("12") is not None  # window longer than the context
    assert phase.offer("3") is None
    params = phase.params()
    assert (params.window_s, params.context_s) == (3.0, 10.0)
    assert parse_stream_params(params.as_dict()) == params  # what the worker checks again


def test_verify_three_parameter_form_takes_the_third_as_the_window() -> None:
    phase = ParameterPhase("verify")
    offer_all(phase, template().to_text(), "8000", "4")
    params = phase.params()
    assert (params.window_s, params.context_s, params.rate) == (4.0, 10.0, 8000)


def test_a_template_that_is_not_ours_is_refused_as_a_parameter() -> None:
    phase = ParameterPhase("verify")
    assert phase.offer("aGVsbG8gd29ybGQ=") is not None
    assert phase.values == []


@pytest.mark.parametrize(
    "params",
    [
        {"mode": "sing", "sample_rate": 16000},
        {"mode": "summary", "sample_rate": 7999},
        {"mode": "endpoint", "sample_rate": 16000, "min_speech_ms": 0, "silence_ms": 600},
        {"mode": "verify", "sample_rate": 16000, "template": "x", "window_s": 5.0, "context_s": 3.0},
    ],
)
def test_the_worker_refuses_parameter_sets_the_gateway_would_not_send(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        parse_stream_params(params)
