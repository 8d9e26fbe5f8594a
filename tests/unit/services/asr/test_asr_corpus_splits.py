"""The ASR corpus keeps a held-out split that shares no sentence with the one settings were tuned on."""

from __future__ import annotations

from scripts.eval_asr import normalise
from scripts.make_asr_corpus import HELD_OUT_ITEMS, ITEMS


def test_held_out_sentences_are_new_and_enough() -> None:
    tuning = {" ".join(normalise(s)) for item in ITEMS for s in item}
    held_out = [" ".join(normalise(s)) for item in HELD_OUT_ITEMS for s in item]
    assert not tuning & set(held_out)
    assert len(held_out) >= 15 and sum(len(s.split()) for s in held_out) >= 120
