"""The corpus scorer of scripts/eval_redaction.py follows the Scoring section of ANNOTATION.md."""

from __future__ import annotations

import functools
import json
from pathlib import Path

from scripts.eval_redaction import Mention, evaluate, match
from services.redaction import RedactionEngine


@functools.cache
def engine() -> RedactionEngine:
    return RedactionEngine.from_env({})


def test_overlap_of_half_the_longer_span_matches() -> None:
    gold = [Mention(0, 10, "NAME")]
    assert match(gold, [Mention(0, 5, "NAME")])  # 5 of 10
    assert not match(gold, [Mention(0, 4, "NAME")])  # 4 of 10
    assert not match(gold, [Mention(0, 10, "DATE")])  # other type


def test_matching_is_one_to_one() -> None:
    gold = [Mention(0, 4, "NAME")]
    pairs = match(gold, [Mention(0, 4, "NAME"), Mention(0, 3, "NAME")])
    assert pairs == [(Mention(0, 4, "NAME"), Mention(0, 4, "NAME"))]


def test_evaluate_counts_per_type_and_micro(tmp_path: Path) -> None:
    records = [
        {
            "id": "t-1",
            "genre": "chat",
            "text": "hi, it's Maria Gonzalez, my number is 415-555-0134",
            "entities": [
                {"start": 9, "end": 23, "type": "NAME", "text": "Maria Gonzalez"},
                {"start": 38, "end": 50, "type": "PHONE_NUMBER", "text": "415-555-0134"},
            ],
        },
        {"id": "t-2", "genre": "misc", "text": "Nothing to see here.", "entities": []},
    ]
    path = tmp_path / "corpus.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    report = evaluate(engine(), path)
    assert report.per_type["NAME"].tp == 1 and report.per_type["PHONE_NUMBER"].tp == 1
    assert (report.micro.gold, report.micro.pred, report.micro.tp) == (2, 2, 2)
    assert report.micro.f1 == 1.0
    assert "MICRO" in report.table()
