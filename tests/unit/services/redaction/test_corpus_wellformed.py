"""The labelled corpus is what quality is judged on: its offsets and types must be exactly right."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support import DATA

TYPES = {
    "NAME",
    "LOCATION_ADDRESS",
    "LOCATION_CITY",
    "LOCATION_STATE",
    "LOCATION_COUNTRY",
    "LOCATION_ZIP",
    "ORGANIZATION",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "SSN",
    "DATE",
    "DOB",
    "AGE",
    "IP_ADDRESS",
    "URL",
    "BANK_ACCOUNT",
    "PASSPORT_NUMBER",
    "DRIVER_LICENSE",
}


@pytest.mark.parametrize("name", ["pii_dev.jsonl", "pii_test.jsonl"])
def test_every_entity_is_where_it_says_and_of_a_known_type(name: str) -> None:
    ids = set()
    for line in (DATA / name).read_text().splitlines():
        record = json.loads(line)
        assert record["id"] not in ids
        ids.add(record["id"])
        ends: list[int] = []
        for ent in sorted(record["entities"], key=lambda e: e["start"]):
            assert record["text"][ent["start"] : ent["end"]] == ent["text"], record["id"]
            assert ent["type"] in TYPES, record["id"]
            assert not ends or ent["start"] >= ends[-1], f"overlapping entities in {record['id']}"
            ends.append(ent["end"])


def test_the_held_out_set_is_large_enough_and_disjoint_from_dev() -> None:
    def load(name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in (DATA / name).read_text().splitlines()]

    test, dev = load("pii_test.jsonl"), load("pii_dev.jsonl")
    assert sum(len(r["entities"]) for r in test) >= 300
    assert not {r["text"] for r in test} & {r["text"] for r in dev}
