"""V-Blaze /transcribe audio as clients send it: WAVE in any chunk layout, raw PCM and G.711, split anywhere."""

from __future__ import annotations

import random
import struct

import numpy as np
import pytest

from gateway.vblaze.errors import AudioFormatError, ProtocolError
from gateway.vblaze.tags import Tags, parse_tags
from gateway.vblaze.wire import AudioDecoder
from services.audio.g711 import ALAW_TO_PCM16, ULAW_TO_PCM16
from tests.unit.gateway.vblaze.wave_bytes import (
    EXTENSIBLE_GUID_TAIL,
    SPEECH,
    WAVE_TAGS,
    chunk,
    decode_all,
    fmt_chunk,
    pcm16,
    wave,
)

# --- audio: WAVE ---------------------------------------------------------------------------------


def test_plain_wave_pcm16() -> None:
    decoder = AudioDecoder(WAVE_TAGS)
    assert decoder.sample_rate is None
    assert decoder.feed(wave(SPEECH, fmt=fmt_chunk(rate=16000))) == SPEECH
    assert decoder.sample_rate == 16000
    assert decoder.finish() == b""
    assert decoder.audio_seconds == pytest.approx(len(SPEECH) / 2 / 16000)


EXOTIC_LAYOUTS: dict[str, bytes] = {
    "LIST before fmt": wave(SPEECH, before_fmt=chunk(b"LIST", b"INFOISFT\x05\x00\x00\x00Lavf\x00")),
    "odd chunk with pad byte": wave(SPEECH, before_data=chunk(b"odd ", b"abc")),
    "fact chunk": wave(SPEECH, before_data=chunk(b"fact", struct.pack("<I", len(SPEECH) // 2))),
    "empty chunk": wave(SPEECH, before_fmt=chunk(b"JUNK", b""), before_data=chunk(b"zero", b"")),
    "all of them": wave(
        SPEECH,
        before_fmt=chunk(b"JUNK", b"\x00" * 27) + chunk(b"bext", b"x" * 601),
        before_data=chunk(b"fact", b"\x00" * 4) + chunk(b"LIST", b"INFO" + chunk(b"ICMT", b"hi!")),
    ),
    "extensible": wave(SPEECH, fmt=fmt_chunk(extensible=True)),
    "trailing chunk after a sized data chunk": wave(SPEECH, after_data=chunk(b"LIST", b"INFOjunk")),
    "data size 0xFFFFFFFF": wave(SPEECH, data_size=0xFFFFFFFF),
    "data size 0": wave(SPEECH, data_size=0),
}


@pytest.mark.parametrize("layout", EXOTIC_LAYOUTS)
def test_exotic_chunk_layouts(layout: str) -> None:
    assert decode_all(WAVE_TAGS, [EXOTIC_LAYOUTS[layout]]) == SPEECH


def test_streaming_data_size_runs_to_the_end_in_several_frames() -> None:
    head = wave(b"", data_size=0xFFFFFFFF)
    frames = [head, SPEECH[:101], SPEECH[101:2000], SPEECH[2000:]]
    assert decode_all(WAVE_TAGS, frames) == SPEECH


def test_a_sized_data_chunk_ignores_what_follows_even_across_frames() -> None:
    audio = wave(SPEECH, after_data=chunk(b"LIST", b"INFO" * 10))
    assert decode_all(WAVE_TAGS, [audio[:50], audio[50:-7], audio[-7:]]) == SPEECH


@pytest.mark.parametrize("layout", ["all of them", "extensible", "data size 0xFFFFFFFF"])
def test_split_at_every_offset_gives_the_same_pcm(layout: str) -> None:
    audio = EXOTIC_LAYOUTS[layout]
    header_len = audio.index(b"data") + 8 + 5  # the whole header and a little audio, mid-sample
    for cut in range(header_len + 1):
        assert decode_all(WAVE_TAGS, [audio[:cut], audio[cut:]]) == SPEECH, f"split at {cut}"
    assert decode_all(WAVE_TAGS, [bytes([b]) for b in audio]) == SPEECH


def test_random_splits_give_the_same_pcm() -> None:
    rng = random.Random(7)
    audio = EXOTIC_LAYOUTS["all of them"]
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(audio)), rng.randint(1, 12)))
        frames = [audio[a:b] for a, b in zip([0, *cuts], [*cuts, len(audio)], strict=True)]
        assert decode_all(WAVE_TAGS, frames) == SPEECH


def test_mid_sample_splits_hold_the_partial_sample() -> None:
    decoder = AudioDecoder(WAVE_TAGS)
    assert decoder.feed(wave(b"", data_size=0) + b"\x34") == b""
    assert decoder.feed(b"\x12\x78") == b"\x34\x12"
    assert decoder.feed(b"\x56") == b"\x78\x56"
    assert decoder.samples_out == 2


def test_8bit_pcm_is_unsigned() -> None:
    audio = wave(bytes([0, 1, 127, 128, 129, 255]), fmt=fmt_chunk(bits=8))
    assert decode_all(WAVE_TAGS, [audio]) == pcm16(-32768, -32512, -256, 0, 256, 32512)


def test_24_and_32_bit_pcm_keep_the_top_16_bits() -> None:
    values = [0, 1, -1, 32767, -32768, 12345]
    as24 = b"".join((v << 8 | 0xAB).to_bytes(3, "little", signed=True) for v in values)
    as32 = b"".join((v << 16 | 0xCDEF).to_bytes(4, "little", signed=True) for v in values)
    assert decode_all(WAVE_TAGS, [wave(as24, fmt=fmt_chunk(bits=24))]) == pcm16(*values)
    audio32 = wave(as32, fmt=fmt_chunk(bits=32, extensible=True))
    assert decode_all(WAVE_TAGS, [audio32[:47], audio32[47:53], audio32[53:]]) == pcm16(*values)


@pytest.mark.parametrize("extensible", [False, True])
def test_g711_wave(extensible: bool) -> None:
    codes = bytes(range(256))
    ulaw = wave(codes, fmt=fmt_chunk(tag=7, bits=8, extensible=extensible))
    alaw = wave(codes, fmt=fmt_chunk(tag=6, bits=8, extensible=extensible))
    assert decode_all(WAVE_TAGS, [ulaw]) == ULAW_TO_PCM16.tobytes()
    assert decode_all(WAVE_TAGS, [alaw]) == ALAW_TO_PCM16.tobytes()


# --- audio: errors -------------------------------------------------------------------------------


BAD_WAVES = [
    (b"\x00\x01" * 20, "does not start with a RIFF/WAVE header"),
    (b"OggS" + b"\x00" * 40, "looks like Ogg"),
    (b"RF64" + b"\xff" * 4 + b"WAVE" + b"\x00" * 40, "looks like RF64"),
    (b"RIFF\x00\x00\x00\x00AVI " + b"\x00" * 40, "RIFF/WAVE"),
    (b"RIFF\x00\x00\x00\x00WAVE" + chunk(b"data", SPEECH), "data chunk came before any fmt chunk"),
    (wave(SPEECH, fmt=fmt_chunk(tag=3, bits=32)), "0x0003 (IEEE float) is not supported"),
    (wave(SPEECH, fmt=fmt_chunk(tag=2, bits=4)), "Microsoft ADPCM"),
    (wave(SPEECH, fmt=fmt_chunk(tag=3, bits=32, extensible=True)), "IEEE float"),
    (wave(SPEECH, fmt=fmt_chunk(tag=0x1234)), "0x1234 (unknown)"),
    (wave(SPEECH, fmt=fmt_chunk(channels=2)), "has 2 channels; only mono (1 channel) audio is supported"),
    (wave(SPEECH, fmt=fmt_chunk(channels=0)), "has 0 channels"),
    (wave(SPEECH, fmt=fmt_chunk(rate=1000)), "sample rate is 1000 Hz"),
    (wave(SPEECH, fmt=fmt_chunk(rate=384000)), "from 4000 to 96000 Hz"),
    (wave(SPEECH, fmt=fmt_chunk(bits=12)), "12 bits per sample is not supported"),
    (wave(SPEECH, fmt=fmt_chunk(tag=7, bits=16)), "G.711 audio must have 8 bits"),
    (wave(SPEECH, fmt=chunk(b"fmt ", b"\x01\x00" * 4)), "fmt chunk is 8 bytes"),
    (wave(SPEECH, fmt=chunk(b"fmt ", struct.pack("<HHIIHH", 0xFFFE, 1, 8000, 16000, 2, 16))), "must be 40"),
    (wave(SPEECH, fmt=fmt_chunk(extensible=True).replace(EXTENSIBLE_GUID_TAIL, b"\x01" * 14)), "sub-format"),
]


@pytest.mark.parametrize(("audio", "message"), BAD_WAVES)
def test_bad_wave_is_refused_with_a_clear_message(audio: bytes, message: str) -> None:
    with pytest.raises(AudioFormatError) as info:
        decode_all(WAVE_TAGS, [audio[:9], audio[9:]])
    assert message in info.value.reason
    assert info.value.close_code == 1003


def test_stereo_message_says_mono_is_required() -> None:
    with pytest.raises(AudioFormatError, match=r"2 channels; only mono .* downmix"):
        AudioDecoder(WAVE_TAGS).feed(wave(SPEECH, fmt=fmt_chunk(channels=2)))


def test_audio_ending_inside_the_header_is_an_error() -> None:
    decoder = AudioDecoder(WAVE_TAGS)
    decoder.feed(wave(SPEECH)[:30])
    with pytest.raises(AudioFormatError, match="ended inside the WAVE header"):
        decoder.finish()
    # No bytes at all is not a broken header: an empty stream, with an empty transcript.
    assert AudioDecoder(WAVE_TAGS).finish() == b""


def test_feeding_after_finish_is_a_protocol_error() -> None:
    decoder = AudioDecoder(Tags(datahdr="NONE"))
    decoder.finish()
    with pytest.raises(ProtocolError):
        decoder.feed(b"\x00\x00")


# --- audio: raw (datahdr=NONE) -------------------------------------------------------------------


def test_raw_pcm16_holds_an_odd_byte_until_the_next_frame() -> None:
    decoder = AudioDecoder(parse_tags({"datahdr": "NONE", "samprate": "16000"}, {}))
    assert decoder.sample_rate == 16000
    assert decoder.feed(b"\x01") == b""
    assert decoder.feed(b"\x02\x03") == b"\x01\x02"
    assert decoder.feed(b"\x04\x05") == b"\x03\x04"
    assert decoder.finish() == b""  # the trailing half sample is dropped
    assert decoder.audio_seconds == pytest.approx(2 / 16000)


def test_raw_defaults_to_8khz() -> None:
    assert AudioDecoder(parse_tags({"datahdr": "NONE"}, {})).sample_rate == 8000


def test_raw_8bit_pcm() -> None:
    tags = parse_tags({"datahdr": "NONE", "sampwidth": "1"}, {})
    assert decode_all(tags, [bytes([0, 128]), bytes([255])]) == pcm16(-32768, 0, 32512)


@pytest.mark.parametrize(("encoding", "table"), [("ulaw", ULAW_TO_PCM16), ("alaw", ALAW_TO_PCM16)])
def test_raw_g711(encoding: str, table: np.ndarray[tuple[int], np.dtype[np.int16]]) -> None:
    tags = parse_tags({"datahdr": "NONE", "encoding": encoding, "samprate": "8000"}, {})
    codes = bytes(range(256))
    assert decode_all(tags, [codes[:100], codes[100:]]) == table.tobytes()


def test_raw_mode_does_not_look_for_a_header() -> None:
    audio = wave(SPEECH)
    assert decode_all(Tags(datahdr="NONE"), [audio]) == audio
