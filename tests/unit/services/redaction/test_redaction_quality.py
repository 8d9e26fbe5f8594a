"""The quality gate: the default engine on the held-out, hand-labelled corpus (tests/data/pii_test.jsonl)."""

from __future__ import annotations

import pytest

from scripts.eval_redaction import Report, evaluate
from services.redaction import RedactionEngine
from tests.support import DATA


@pytest.fixture(scope="module")
def report() -> Report:
    return evaluate(RedactionEngine.from_env(), DATA / "pii_test.jsonl")


def test_micro_f1_on_the_held_out_corpus(report: Report) -> None:
    assert report.micro.gold >= 300
    assert report.micro.f1 >= 0.85, report.table()


def test_name_recall_on_the_held_out_corpus(report: Report) -> None:
    assert report.per_type["NAME"].recall >= 0.85, report.table()
