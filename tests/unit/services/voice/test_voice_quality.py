"""Speaker verification quality on the voice corpus's held-out speakers (never used to choose or fit
anything): EER over every same/different-speaker pair, clean and across the phone channel, and the
calibrated probability of same-speaker pairs above different-speaker pairs. `make eval` prints the same
figures for both splits. The corpus is built once into the gitignored .voice_corpus/ and reused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scripts.eval_voice import SplitResult, eer, evaluate_split, read_audio
from scripts.make_voice_corpus import DEFAULT_DIR, make_corpus
from services.settings import VoiceSettings
from services.voice.encoder import load_encoder
from services.voice.model import channel_of
from services.voice.scoring import probability

MAX_EER_CLEAN = 0.02
MAX_EER_PHONE = 0.10


@pytest.fixture(scope="module")
def held_out() -> SplitResult:
    try:
        make_corpus(DEFAULT_DIR)
    except RuntimeError as exc:
        raise AssertionError(str(exc)) from exc
    return evaluate_split(load_encoder(VoiceSettings().encoder), DEFAULT_DIR, "held_out")


def test_eer_clean_and_across_the_phone_channel(held_out: SplitResult) -> None:
    clean, phone = held_out.trials["compensated", "wideband"], held_out.trials["compensated", "phone"]
    assert len(clean.same) >= 90 and len(clean.different) >= 900
    assert eer(clean.same, clean.different) <= MAX_EER_CLEAN
    assert eer(phone.same, phone.different) <= MAX_EER_PHONE
    # What the compensation is for: one clean vector alone does far worse across the channel.
    plain = held_out.trials["plain", "phone"]
    assert eer(plain.same, plain.different) > 2 * eer(phone.same, phone.different)


def test_same_speaker_probability_above_different_speaker(held_out: SplitResult) -> None:
    for channel in ("wideband", "phone"):
        trials = held_out.trials["compensated", channel]
        same = [probability(s, channel) for s in trials.same]
        different = [probability(s, channel) for s in trials.different]
        assert np.mean(same) > 0.7 and np.mean(different) < 0.2, channel


def test_the_channel_of_a_probe_is_told_from_its_audio() -> None:
    items = json.loads((DEFAULT_DIR / "manifest.json").read_text(encoding="utf-8"))["items"]
    for item in items[::7]:
        assert channel_of(read_audio(DEFAULT_DIR / item["file"])) == "wideband"
        assert channel_of(read_audio(DEFAULT_DIR / item["phone_file"])) == "phone"
