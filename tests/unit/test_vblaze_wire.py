"""V-Blaze /transcribe wire protocol: tags, audio decoding, output formats, the session state machine."""

from __future__ import annotations

import json
import random
import re
import struct
import warnings
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from gateway.vblaze_wire import (
    ALAW_TO_PCM16,
    ULAW_TO_PCM16,
    AudioChunk,
    AudioDecoder,
    AudioEnd,
    AudioFormatError,
    ProtocolError,
    Session,
    SessionState,
    TagError,
    Tags,
    UtteranceResult,
    VBlazeError,
    Word,
    decode_alaw,
    decode_ulaw,
    error_message,
    parse_tags,
    render_transcript,
    render_utterance,
    transcript_json,
    transcript_text,
    utterance_json,
    utterance_text,
)

# --- helpers -------------------------------------------------------------------------------------

EXTENSIBLE_GUID_TAIL = b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"


def chunk(chunk_id: bytes, body: bytes, *, size: int | None = None) -> bytes:
    pad = b"\x00" if len(body) % 2 else b""
    return chunk_id + struct.pack("<I", len(body) if size is None else size) + body + pad


def fmt_chunk(*, tag: int = 1, channels: int = 1, rate: int = 8000, bits: int = 16, extensible: bool = False) -> bytes:
    align = channels * bits // 8
    base = struct.pack("<HHIIHH", 0xFFFE if extensible else tag, channels, rate, rate * align, align, bits)
    if extensible:
        guid = struct.pack("<H", tag) + EXTENSIBLE_GUID_TAIL
        base += struct.pack("<HHI", 22, bits, 0x4) + guid
    return chunk(b"fmt ", base)


def wave(
    data: bytes,
    *,
    fmt: bytes | None = None,
    before_fmt: bytes = b"",
    before_data: bytes = b"",
    after_data: bytes = b"",
    data_size: int | None = None,
) -> bytes:
    body = b"WAVE" + before_fmt + (fmt_chunk() if fmt is None else fmt) + before_data
    body += chunk(b"data", data, size=data_size) + after_data
    return b"RIFF" + struct.pack("<I", len(body)) + body


def pcm16(*values: int) -> bytes:
    return np.array(values, dtype="<i2").tobytes()


def decode_all(tags: Tags, frames: list[bytes]) -> bytes:
    decoder = AudioDecoder(tags)
    out = b"".join(decoder.feed(f) for f in frames)
    return out + decoder.finish()


WAVE_TAGS = Tags()
SPEECH = pcm16(*range(-3000, 3000, 7))


# --- tags ----------------------------------------------------------------------------------------


def test_defaults() -> None:
    tags = parse_tags({}, {})
    assert tags == Tags()
    assert (tags.model, tags.output, tags.datahdr, tags.encoding, tags.sampwidth) == (
        "eng1:callcenter",
        "json",
        "WAVE",
        "pcm",
        2,
    )
    assert not tags.realtime and not tags.outstream and not tags.scrubtext and not tags.scrubaudio
    assert tags.callback is None and tags.utterance_callback is None and dict(tags.extra) == {}


QUERY_SETS: list[dict[str, str]] = [
    {"model": "eng1:callcenter", "output": "text"},
    {"realtime": "true"},
    {"realtime": "yes", "outstream": "0", "scrubtext": "1", "scrubaudio": "TRUE"},
    {"datahdr": "NONE", "samprate": "16000", "sampwidth": "1", "encoding": "pcm"},
    {"datahdr": "none", "encoding": "mulaw"},
    {"callback": "https://example.com/cb?x=1", "utterance_callback": "http://10.0.0.1:8080/u"},
    {"diarize": "false", "vocab": "Acme,Widget", "source": "call-17.wav"},
]


@pytest.mark.parametrize("query", QUERY_SETS)
def test_query_and_headers_give_identical_tags(query: dict[str, str]) -> None:
    def header_name(tag: str) -> str:
        return "X-Voci-" + "-".join(part.capitalize() for part in tag.split("_"))

    from_query = parse_tags(query, {})
    assert parse_tags({}, {header_name(k): v for k, v in query.items()}) == from_query
    # Header names are case-insensitive, and the underscore spelling works too.
    assert parse_tags({}, {"x-voci-" + k.upper(): v for k, v in query.items()}) == from_query


def test_header_tags_ignore_other_headers() -> None:
    tags = parse_tags({}, {"Host": "gw", "X-Voci-": "x", "X-Vocix": "y", "Authorization": "Bearer z"})
    assert tags == Tags()


def test_query_wins_over_a_header() -> None:
    tags = parse_tags({"output": "text"}, {"X-Voci-Output": "json", "X-Voci-Model": "spa1:callcenter"})
    assert tags.output == "text"
    assert tags.model == "spa1:callcenter"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("true", True), ("TRUE", True), ("1", True), ("Yes", True), ("false", False), ("False", False), ("0", False),
     ("NO", False)],
)  # fmt: skip
def test_bool_spellings(value: str, expected: bool) -> None:
    assert parse_tags({"scrubtext": value}, {}).scrubtext is expected


def test_outstream_defaults_to_realtime_and_can_be_turned_off() -> None:
    assert parse_tags({"realtime": "true"}, {}).outstream is True
    assert parse_tags({"realtime": "true", "outstream": "false"}, {}).outstream is False
    assert parse_tags({"outstream": "true"}, {}).outstream is True
    assert parse_tags({}, {}).outstream is False


def test_streaming_properties() -> None:
    assert parse_tags({"outstream": "true"}, {}).streams_utterances
    assert not parse_tags({"outstream": "true", "utterance_callback": "http://h/u"}, {}).streams_utterances
    assert parse_tags({"outstream": "true", "scrubaudio": "true"}, {}).streams_audio
    assert not parse_tags({"scrubaudio": "true"}, {}).streams_audio


@pytest.mark.parametrize(
    ("spelling", "encoding"),
    [("PCM", "pcm"), ("linear", "pcm"), ("ulaw", "ulaw"), ("mulaw", "ulaw"), ("u-law", "ulaw"), ("Mu-Law", "ulaw"),
     ("pcmu", "ulaw"), ("alaw", "alaw"), ("A-law", "alaw"), ("pcma", "alaw")],
)  # fmt: skip
def test_encoding_spellings(spelling: str, encoding: str) -> None:
    tags = parse_tags({"encoding": spelling}, {})
    assert tags.encoding == encoding
    assert tags.sampwidth == (2 if encoding == "pcm" else 1)


def test_samprate_and_sampwidth() -> None:
    assert parse_tags({}, {}).samprate == 8000
    assert parse_tags({"samprate": "16000"}, {}).samprate == 16000
    assert parse_tags({"samprate": "44100.0"}, {}).samprate == 44100
    assert parse_tags({"sampwidth": "1"}, {}).sampwidth == 1
    assert parse_tags({"encoding": "ulaw", "sampwidth": "1"}, {}).sampwidth == 1


def test_unknown_tags_are_kept_and_empty_values_mean_absent() -> None:
    tags = parse_tags({"Diarize": "true", "output": "", "callback": " "}, {"X-Voci-Emotion": "yes"})
    assert dict(tags.extra) == {"diarize": "true", "emotion": "yes"}
    assert tags.output == "json" and tags.callback is None
    assert hash(tags) == hash(parse_tags({"diarize": "other"}, {}))  # extra is left out of the hash only


BAD_TAGS = [
    ("encoding", "mp3", "pcm, ulaw"),
    ("encoding", "g729", "alaw"),
    ("datahdr", "MP3", "WAVE"),
    ("datahdr", "raw", "NONE"),
    ("samprate", "abc", "Not a number"),
    ("samprate", "1000", "4000 to 96000"),
    ("samprate", "192000", "4000 to 96000"),
    ("samprate", "8000.5", "whole number"),
    ("sampwidth", "3", "Use 1 or 2"),
    ("sampwidth", "two", "Use 1 or 2"),
    ("output", "xml", "json or text"),
    ("realtime", "maybe", "true or false"),
    ("outstream", "2", "true or false"),
    ("scrubtext", "on?", "true or false"),
    ("scrubaudio", "y", "true or false"),
    ("callback", "ftp://example.com/x", "http:// or https://"),
    ("callback", "example.com/cb", "http:// or https://"),
    ("callback", "http://", "with a host"),
    ("callback", "http://host:99999/x", "http:// or https://"),
    ("callback", "http://exa mple.com/", "http:// or https://"),
    ("utterance_callback", "javascript:alert(1)", "http:// or https://"),
    ("nchannels", "2", "mono"),
]


@pytest.mark.parametrize(("tag", "value", "allowed"), BAD_TAGS)
def test_bad_tag_values_name_the_tag_and_what_is_allowed(tag: str, value: str, allowed: str) -> None:
    for query, headers in (({tag: value}, {}), ({}, {"X-Voci-" + tag.replace("_", "-"): value})):
        with pytest.raises(TagError) as info:
            parse_tags(query, headers)
        exc = info.value
        assert (exc.tag, exc.value) == (tag, value)
        assert f"Tag '{tag}' has value '{value}'." in str(exc)
        assert allowed in exc.reason
        assert exc.close_code == 1003


def test_sampwidth_two_with_g711_is_refused() -> None:
    with pytest.raises(TagError, match="encoding=ulaw has 1 byte per sample"):
        parse_tags({"encoding": "ulaw", "sampwidth": "2"}, {})


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


# --- audio: G.711 --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "value"),
    # ITU-T G.711 mu-law: 0xFF and 0x7F are the two zeros; 0x00/0x80 the extremes (+-32124).
    [(0xFF, 0), (0x7F, 0), (0x00, -32124), (0x80, 32124), (0xFE, 8), (0x7E, -8), (0xF0, 120), (0xEF, 132)],
)
def test_ulaw_known_values(code: int, value: int) -> None:
    assert int(ULAW_TO_PCM16[code]) == value
    assert decode_ulaw(bytes([code])) == pcm16(value)


@pytest.mark.parametrize(
    ("code", "value"),
    # ITU-T G.711 A-law: 0xD5/0x55 are +-8 (the smallest step); 0xAA/0x2A the extremes (+-32256).
    [(0xD5, 8), (0x55, -8), (0xAA, 32256), (0x2A, -32256), (0xD4, 24), (0xC5, 264), (0x80, 5504), (0x00, -5504)],
)
def test_alaw_known_values(code: int, value: int) -> None:
    assert int(ALAW_TO_PCM16[code]) == value
    assert decode_alaw(bytes([code])) == pcm16(value)


def test_g711_tables_are_symmetric_and_monotonic() -> None:
    for table in (ULAW_TO_PCM16, ALAW_TO_PCM16):
        positive = table[0x80:].astype(np.int32)
        negative = table[:0x80].astype(np.int32)
        assert (positive == -negative).all()
    # mu-law: magnitude grows as the (inverted) code falls.
    assert (np.diff(ULAW_TO_PCM16[0x80:].astype(np.int32)) < 0).all()
    # A-law: magnitude grows with the code once the even-bit inversion is undone.
    assert (np.diff(ALAW_TO_PCM16[np.arange(0x80, 0x100) ^ 0x55].astype(np.int32)) > 0).all()


def test_g711_tables_match_the_standard_library_reference() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        audioop = pytest.importorskip("audioop")  # removed in Python 3.13
    codes = bytes(range(256))
    assert decode_ulaw(codes) == audioop.ulaw2lin(codes, 2)
    assert decode_alaw(codes) == audioop.alaw2lin(codes, 2)


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


# --- output --------------------------------------------------------------------------------------

T0 = datetime(2024, 5, 1, 13, 45, 7, 123456, tzinfo=UTC)
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}$")


def utterance(start: float, words: list[Word], confidence: float = 0.9) -> UtteranceResult:
    end = words[-1].end if words else start + 0.5
    return UtteranceResult(start, end, confidence, words, T0 + timedelta(seconds=start), T0 + timedelta(seconds=9))


UTTERANCES = [
    utterance(0.31, [Word("hello", 0.31, 0.62, 0.93), Word("there", 0.62, 1.004999, 0.8751)], 0.9),
    utterance(2.0, [Word("café", 2.0, 2.5, 0.5)], 0.5),
]


def test_transcript_json_has_every_field_with_the_right_type() -> None:
    doc = json.loads(transcript_json(UTTERANCES, model="eng1:callcenter", audiosecs=3.14159, recvdate=T0, donedate=T0))
    assert set(doc) == {"model", "source", "confidence", "audiosecs", "nchannels", "recvdate", "donedate", "utterances"}
    assert doc["model"] == "eng1:callcenter" and doc["source"] == "websocket"
    assert isinstance(doc["confidence"], float) and isinstance(doc["audiosecs"], float)
    assert doc["audiosecs"] == 3.14 and doc["nchannels"] == 1
    assert doc["recvdate"] == "2024-05-01 13:45:07.123456"
    for i, utt in enumerate(doc["utterances"]):
        assert set(utt) == {"start", "end", "confidence", "recvdate", "donedate", "events", "metadata"}
        assert all(isinstance(utt[k], float) for k in ("start", "end", "confidence"))
        assert DATE_RE.match(utt["recvdate"]) and DATE_RE.match(utt["donedate"])
        assert utt["metadata"] == {"uttid": i, "channel": 0, "source": "websocket", "model": "eng1:callcenter"}
        for event in utt["events"]:
            assert set(event) == {"word", "start", "end", "confidence"}
            assert isinstance(event["word"], str)
            assert all(isinstance(event[k], float) for k in ("start", "end", "confidence"))
    first = doc["utterances"][0]
    assert first["events"][1] == {"word": "there", "start": 0.62, "end": 1.0, "confidence": 0.88}
    assert (first["start"], first["end"]) == (0.31, 1.0)
    assert doc["utterances"][1]["events"][0]["word"] == "café"


def test_overall_confidence_is_weighted_by_duration() -> None:
    doc = json.loads(transcript_json(UTTERANCES, model="m", audiosecs=3, recvdate=T0, donedate=T0))
    expected = (0.9 * (1.004999 - 0.31) + 0.5 * 0.5) / ((1.004999 - 0.31) + 0.5)
    assert doc["confidence"] == round(expected, 2)


def test_empty_transcript() -> None:
    doc = json.loads(transcript_json([], model="m", audiosecs=0, recvdate=T0, donedate=T0))
    assert doc["utterances"] == [] and doc["confidence"] == 0.0
    assert transcript_text([]) == ""


def test_dates_are_utc_and_naive_dates_are_taken_as_utc() -> None:
    eastern = T0.astimezone(timezone(timedelta(hours=-4)))
    naive = T0.replace(tzinfo=None)
    for when in (eastern, naive):
        doc = json.loads(transcript_json([], model="m", audiosecs=0, recvdate=when, donedate=when))
        assert doc["recvdate"] == "2024-05-01 13:45:07.123456"
        assert datetime.fromisoformat(doc["recvdate"]) == naive


def test_a_streamed_utterance_is_the_transcripts_utterance() -> None:
    doc = json.loads(transcript_json(UTTERANCES, model="m", audiosecs=3, recvdate=T0, donedate=T0, source="s"))
    for i, utt in enumerate(UTTERANCES):
        assert json.loads(utterance_json(utt, uttid=i, model="m", source="s")) == doc["utterances"][i]


def test_plain_tuples_work_as_words() -> None:
    utt = UtteranceResult(0.0, 1.0, 0.7, [("yes", 0.1, 0.4, 0.99)], T0, T0)
    assert json.loads(utterance_json(utt, uttid=3, model="m"))["events"][0]["word"] == "yes"


def test_text_output() -> None:
    silent = utterance(5.0, [])
    assert utterance_text(UTTERANCES[0]) == "hello there"
    assert transcript_text([*UTTERANCES, silent]) == "hello there\ncafé"


def test_render_follows_the_output_tag() -> None:
    text_tags = parse_tags({"output": "text"}, {})
    json_tags = parse_tags({"model": "eng2:x", "source": "call.wav"}, {})
    assert render_utterance(UTTERANCES[1], uttid=1, tags=text_tags) == "café"
    assert render_utterance(utterance(5.0, []), uttid=2, tags=text_tags) is None  # never the empty end message
    streamed = render_utterance(utterance(5.0, []), uttid=2, tags=json_tags)
    assert streamed is not None and json.loads(streamed)["metadata"]["source"] == "call.wav"
    done = T0 + timedelta(seconds=4)
    assert render_transcript(UTTERANCES, tags=text_tags, audiosecs=3, recvdate=T0, donedate=done) == "hello there\ncafé"
    doc = json.loads(render_transcript(UTTERANCES, tags=json_tags, audiosecs=3, recvdate=T0, donedate=done))
    assert doc["model"] == "eng2:x" and doc["source"] == "call.wav"
    assert doc["donedate"] == "2024-05-01 13:45:11.123456"


# --- errors --------------------------------------------------------------------------------------


def test_error_messages() -> None:
    with pytest.raises(TagError) as info:
        parse_tags({"encoding": "mp3"}, {})
    body = json.loads(error_message(info.value))
    assert body == {"error": info.value.reason, "code": 1003, "tag": "encoding", "value": "mp3"}
    assert json.loads(error_message(AudioFormatError("stereo")))["code"] == 1003
    assert json.loads(error_message(ProtocolError("text frame"))) == {"error": "text frame", "code": 1008}


def test_close_reason_fits_a_close_frame() -> None:
    exc = AudioFormatError("é" * 200)
    assert len(exc.close_reason.encode()) <= 123
    assert exc.close_reason.endswith("...")
    assert AudioFormatError("short").close_reason == "short"
    long_value = TagError("callback", "http://h/" + "x" * 500, "Must be short.")
    assert len(long_value.reason) < 200  # the value is cut in the message, kept whole on the exception
    assert len(long_value.value) > 500


def test_one_exception_base() -> None:
    assert issubclass(TagError, VBlazeError) and issubclass(AudioFormatError, VBlazeError)
    assert issubclass(ProtocolError, VBlazeError)


# --- session state machine -----------------------------------------------------------------------


def state_of(session: Session) -> SessionState:
    return session.state  # read through a call, so mypy does not pin the state after one assert


def test_session_happy_path() -> None:
    session = Session(WAVE_TAGS)
    audio = wave(SPEECH, data_size=0)
    assert state_of(session) is SessionState.AWAITING_AUDIO
    first = session.on_binary(audio[:20])
    assert first == AudioChunk(b"", None)
    assert state_of(session) is SessionState.STREAMING
    second = session.on_binary(audio[20:])
    assert second == AudioChunk(SPEECH, 8000)
    end = session.on_binary(b"")
    assert isinstance(end, AudioEnd)
    assert end.sample_rate == 8000 and end.audio_seconds == pytest.approx(len(SPEECH) / 2 / 8000)
    assert state_of(session) is SessionState.ENDED
    session.results_sent()
    assert state_of(session) is SessionState.CLOSED
    assert session.on_client_close() is False  # the close handshake after everything was sent


@pytest.mark.parametrize("frames", [[], [b"\x00\x00"]])
def test_text_frame_is_a_protocol_error_in_any_open_state(frames: list[bytes]) -> None:
    session = Session(Tags(datahdr="NONE"))
    for frame in frames:
        session.on_binary(frame)
    with pytest.raises(ProtocolError, match="text frames are not part of /transcribe") as info:
        session.on_text('{"hello": 1}')
    assert info.value.close_code == 1008
    assert session.state is SessionState.CLOSED and session.error is info.value


def test_text_frame_after_the_end_marker_is_a_protocol_error() -> None:
    session = Session(Tags(datahdr="NONE"))
    session.on_binary(b"")
    with pytest.raises(ProtocolError):
        session.on_text("done")


def test_audio_after_the_end_marker_is_a_protocol_error() -> None:
    session = Session(Tags(datahdr="NONE"))
    session.on_binary(b"\x00\x00")
    session.on_binary(b"")
    assert session.on_binary(b"") is None  # a repeated end marker is ignored
    with pytest.raises(ProtocolError, match="after the end marker") as info:
        session.on_binary(b"\x00\x00")
    assert info.value.close_code == 1008
    assert session.state is SessionState.CLOSED


def test_bad_audio_closes_the_session() -> None:
    session = Session(WAVE_TAGS)
    with pytest.raises(AudioFormatError):
        session.on_binary(wave(SPEECH, fmt=fmt_chunk(channels=2)))
    assert session.state is SessionState.CLOSED
    with pytest.raises(ProtocolError, match="after the session closed"):
        session.on_binary(b"\x00")
    with pytest.raises(ProtocolError, match="after the session closed"):
        session.on_text("x")


def test_end_marker_with_no_audio() -> None:
    raw = Session(Tags(datahdr="NONE", samprate=16000))
    assert raw.on_binary(b"") == AudioEnd(b"", 16000, 0.0)
    wav = Session(WAVE_TAGS)
    ended = wav.on_binary(b"")
    assert isinstance(ended, AudioEnd) and ended.pcm == b"" and ended.audio_seconds == 0.0
    assert wav.state is SessionState.ENDED


@pytest.mark.parametrize("frames", [[], [b"\x00"], [b"\x00\x00", b""]])
def test_client_close_before_the_results_is_an_abort(frames: list[bytes]) -> None:
    session = Session(Tags(datahdr="NONE"))
    for frame in frames:
        session.on_binary(frame)
    assert session.on_client_close() is True
    assert session.state is SessionState.CLOSED


def test_results_cannot_be_sent_before_the_audio_ends() -> None:
    session = Session(Tags(datahdr="NONE"))
    with pytest.raises(ProtocolError, match="audio has not ended"):
        session.results_sent()


def test_fail_records_an_outside_error() -> None:
    session = Session(WAVE_TAGS)
    session.fail(VBlazeError("worker pool unavailable"))
    assert session.state is SessionState.CLOSED
    assert session.error is not None and session.error.close_code == 1011


def test_any_str_mapping_works_as_headers() -> None:
    # aiohttp hands over CIMultiDictProxy objects; any str->str Mapping works.
    class Headers(Mapping[str, str]):
        def __init__(self, items: dict[str, str]) -> None:
            self._items = items

        def __getitem__(self, key: str) -> str:
            return self._items[key]

        def __iter__(self) -> Iterator[str]:
            return iter(self._items)

        def __len__(self) -> int:
            return len(self._items)

    assert parse_tags({}, Headers({"X-VOCI-OUTPUT": "text"})).output == "text"
