"""V-Blaze /transcribe tags: query string and X-Voci-* headers, defaults, and bad values."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import pytest

from gateway.vblaze.errors import TagError
from gateway.vblaze.tags import Tags, parse_tags

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
