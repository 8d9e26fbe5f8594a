"""Whisper's written numbers become the words a caller says, with their times shared out."""

from __future__ import annotations

import itertools

import pytest

from services.asr.numbers import spell_numbers
from services.asr.types import Word


def said(text: str) -> str:
    words = [Word(w, float(i), float(i + 1), 0.9) for i, w in enumerate(text.split())]
    return " ".join(w.word for w in spell_numbers(words))


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("The zip code is 62701.", "The zip code is six two seven zero one."),
        ("I live at 42 Main Street", "I live at forty two Main Street"),
        ("moved to 3 o'clock", "moved to three o'clock"),
        ("at 9:30 tonight", "at nine thirty tonight"),
        ("it starts at 3:00", "it starts at three o'clock"),
        ("the 4th of July, 1985.", "the fourth of July, nineteen eighty five."),
        ("call 555-213-4490.", "call five five five two one three four four nine zero."),
        ("account 0781234", "account zero seven eight one two three four"),
        ("a gift of $250 and 20% off", "a gift of two hundred fifty dollars and twenty percent off"),
        ("in 2005 and 2024", "in two thousand five and twenty twenty four"),
        ("PIN 4417", "PIN four four one seven"),
        ("the 21st floor, room 112", "the twenty first floor, room one hundred twelve"),
        ("no numbers here", "no numbers here"),
        # Groups of one number read out: Whisper writes them apart; each digit is said.
        ("my number is 415 555 0134", "my number is four one five five five five zero one three four"),
        ("card 4 729 1 1 2 2", "card four seven two nine one one two two"),
        ("it's 415, 555, 0134.", "it's four one five, five five five, zero one three four."),
        ("card 4-729 1-1-2-2", "card four seven two nine one one two two"),
        ("about 1,500 people", "about one thousand five hundred people"),
        # A full stop ends a run: two numbers in two sentences are said on their own.
        ("room 112. 42 people", "room one hundred twelve. forty two people"),
    ],
)
def test_numbers_are_spelled_as_said(written: str, spoken: str) -> None:
    assert said(written) == spoken


def test_a_spelled_number_shares_its_words_time_span() -> None:
    words = spell_numbers([Word("62701", 2.0, 3.0, 0.7)])
    assert [w.word for w in words] == ["six", "two", "seven", "zero", "one"]
    assert words[0].start == 2.0 and words[-1].end == pytest.approx(3.0)
    assert all(a.end == pytest.approx(b.start) for a, b in itertools.pairwise(words))
    assert {w.confidence for w in words} == {0.7}


def test_a_dashed_number_split_over_two_words_is_read_digit_by_digit() -> None:
    words = [Word("is", 0.0, 0.5, 0.9), Word("415", 0.5, 1.0, 0.8), Word("-550134.", 1.0, 2.0, 0.6)]
    spoken = [w.word for w in spell_numbers(words)]
    assert spoken == ["is", "four", "one", "five", "five", "five", "zero", "one", "three", "four."]
