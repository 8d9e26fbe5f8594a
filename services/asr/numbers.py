"""Numbers as a caller says them: Whisper writes "62701", "42", "3 o'clock", "4th", "1985"; V-Blaze clients,
scrubtext and the redaction engine expect "six two seven zero one", "forty two", "three o'clock",
"fourth", "nineteen eighty five".

Rules, in the order they apply to one written token (surrounding punctuation kept):
- numbers written next to each other ("415 555 0134", "4 729 1 1 2 2", a comma between them included):
  every digit on its own, as a caller reads out a phone or card number in groups;
- digit groups joined by - or . or : beyond a time ("555-213-4490", "4111.1111"): every digit on its own;
- a time "9:30" / "3:00": "nine thirty" / "three o'clock" (the "o'clock" only when nothing follows);
- an ordinal "4th", "21st": "fourth", "twenty first";
- "$250", "20%": "two hundred fifty dollars", "twenty percent";
- "1,500": a quantity in words ("one thousand five hundred");
- a plain number: five digits or more, or a leading zero: digit by digit (account, phone, zip numbers);
  1100-1999 and 2010-2099: as a year ("nineteen eighty five", "twenty twenty four"); 2000-2009: "two
  thousand five"; other numbers under 10,000: in words ("forty two", "three hundred twelve"; "4417" is
  read "four four one seven": a four-digit code more often than a quantity on a call).
A word's time span is shared evenly by the words it becomes.
"""

from __future__ import annotations

import re

from .types import Word

_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_TEENS = ["ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
    "twelve": "twelfth",
}  # fmt: skip

_TOKEN = re.compile(r"^(?P<pre>[\"'(\[]*)(?P<core>.*?)(?P<post>[.,!?;:\"')\]]*)$")
_GROUPS = re.compile(r"\d+(?:[-.]\d+)+")
_TIME = re.compile(r"(\d{1,2}):(\d{2})")
_ORDINAL_RE = re.compile(r"(\d{1,3})(st|nd|rd|th)", re.IGNORECASE)
_MONEY = re.compile(r"\$(\d{1,6})")
_PERCENT = re.compile(r"(\d{1,3})%")
_THOUSANDS = re.compile(r"\d{1,3},\d{3}")
# A written number that may be one group of a longer one read out: "415", "0134", "-550134", "4.729".
_NUMERAL = re.compile(r"-?\d+(?:[-.,]\d+)*")


def below_thousand(n: int) -> list[str]:
    if n < 10:
        return [_ONES[n]]
    if n < 20:
        return [_TEENS[n - 10]]
    if n < 100:
        tens, ones = divmod(n, 10)
        return [_TENS[tens]] + ([_ONES[ones]] if ones else [])
    hundreds, rest = divmod(n, 100)
    return [_ONES[hundreds], "hundred", *(below_thousand(rest) if rest else [])]


def cardinal(n: int) -> list[str]:
    if n < 1000:
        return below_thousand(n)
    thousands, rest = divmod(n, 1000)
    return [*below_thousand(thousands), "thousand", *(below_thousand(rest) if rest else [])]


def digits(text: str) -> list[str]:
    return [_ONES[int(c)] for c in text if c.isdigit()]


def as_said(number: str) -> list[str]:
    """A plain run of digits, as a caller would say it."""
    n = int(number)
    if len(number) >= 5 or (len(number) > 1 and number[0] == "0"):
        return digits(number)
    if 1100 <= n <= 1999 or 2010 <= n <= 2099:
        high, low = divmod(n, 100)
        return below_thousand(high) + (
            ["hundred"] if low == 0 else below_thousand(low) if low >= 10 else ["oh", _ONES[low]]
        )
    if 2000 <= n <= 2009:
        return ["two", "thousand", *([_ONES[n - 2000]] if n > 2000 else [])]
    if len(number) == 4:
        return digits(number)
    return cardinal(n)


def _ordinal(n: int) -> list[str]:
    words = cardinal(n)
    last = words[-1]
    if last in _ORDINAL:
        words[-1] = _ORDINAL[last]
    elif last.endswith("y"):
        words[-1] = last[:-1] + "ieth"
    else:
        words[-1] = last + "th"
    return words


def spell(core: str, last: bool) -> list[str] | None:
    """The words for one written token, or None when it holds no number to spell."""
    if not any(c.isdigit() for c in core):
        return None
    if core.isdigit():
        return as_said(core)
    if match := _TIME.fullmatch(core):
        hour, minute = int(match[1]), int(match[2])
        if minute == 0:
            return [*cardinal(hour), "o'clock"] if last else cardinal(hour)
        return cardinal(hour) + (["oh", _ONES[minute]] if minute < 10 else below_thousand(minute))
    if match := _ORDINAL_RE.fullmatch(core):
        return _ordinal(int(match[1]))
    if match := _MONEY.fullmatch(core):
        return [*cardinal(int(match[1])), "dollars"]
    if match := _PERCENT.fullmatch(core):
        return [*cardinal(int(match[1])), "percent"]
    if _THOUSANDS.fullmatch(core):
        return cardinal(int(core.replace(",", "")))
    if _GROUPS.fullmatch(core):
        return digits(core)
    return None


def _in_runs(words: list[Word]) -> list[bool]:
    """Which words are one of several numbers written in a row (nothing but a comma between them); a
    dashed number Whisper split over two words ("415" "-550134") is such a run too."""
    cores = [_TOKEN.match(w.word) for w in words]
    numeral = [m is not None and bool(_NUMERAL.fullmatch(m["core"])) for m in cores]
    # A full stop, question mark or the like after a number ends its run; a comma does not.
    open_after = [m is not None and m["post"] in {"", ","} for m in cores]
    linked = [numeral[i] and numeral[i + 1] and open_after[i] for i in range(len(words) - 1)]
    return [numeral[i] and ((i > 0 and linked[i - 1]) or (i < len(linked) and linked[i])) for i in range(len(words))]


def spell_numbers(words: list[Word]) -> list[Word]:
    """The words with every written number replaced by the words a caller says for it."""
    out: list[Word] = []
    for i, (word, in_run) in enumerate(zip(words, _in_runs(words), strict=True)):
        match = _TOKEN.match(word.word)
        if match is None:
            spoken = None
        elif in_run:
            spoken = digits(match["core"])
        else:
            spoken = spell(match["core"].removeprefix("-"), i == len(words) - 1)
        if not spoken or match is None:
            out.append(word)
            continue
        spoken[0] = match["pre"] + spoken[0]
        spoken[-1] = spoken[-1] + match["post"]
        step = (word.end - word.start) / len(spoken)
        out.extend(
            Word(text, word.start + k * step, word.start + (k + 1) * step, word.confidence)
            for k, text in enumerate(spoken)
        )
    return out
