"""The console's text colours are readable: WCAG AA contrast (4.5:1 for text) on the backgrounds they sit on,
computed from the stylesheet's own palette, so a colour change that makes text hard to read fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[3] / "gateway" / "console" / "static" / "console.css"
AA_TEXT = 4.5
# Text colour on background, as the stylesheet pairs them (labels, hints, states, buttons, marks).
PAIRS = [
    ("fg", "bg"),
    ("fg", "panel"),
    ("fg", "mark"),
    ("muted", "bg"),
    ("muted", "panel"),
    ("accent", "bg"),
    ("accent", "panel"),
    ("error", "bg"),
    ("error", "panel"),
    ("ok", "bg"),
    ("ok", "panel"),
    ("#fff", "accent"),  # button text
    ("#fff", "error"),  # a pressed (recording) button
    ("#3c4450", "#d5dae1"),  # a disabled button
]


def palette() -> dict[str, str]:
    return dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{3,6})\s*;", CSS.read_text(encoding="utf-8")))


def luminance(colour: str) -> float:
    digits = colour.lstrip("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_the_contrast_formula_matches_wcags_reference_values() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)  # the classic just-failing grey


@pytest.mark.parametrize(("text", "background"), PAIRS)
def test_text_colours_meet_wcag_aa_on_their_backgrounds(text: str, background: str) -> None:
    colours = palette()
    assert {"fg", "bg", "muted", "panel", "accent", "error", "ok", "mark"} <= set(colours)
    fg = colours.get(text, text)
    bg = colours.get(background, background)
    assert contrast(fg, bg) >= AA_TEXT, f"{text} on {background}: {contrast(fg, bg):.2f}:1"
