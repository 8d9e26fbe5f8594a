"""Score the redaction engine on a hand-labelled PII corpus (tests/data/ANNOTATION.md, "Scoring").

    python -m scripts.eval_redaction                 # the held-out tests/data/pii_test.jsonl
    python -m scripts.eval_redaction --dev           # tests/data/pii_dev.jsonl, for tuning
    python -m scripts.eval_redaction --file X.jsonl --errors   # also list misses and false alarms

A prediction matches a gold entity of the same type when their spans overlap by at least half of the
longer one; matching is one-to-one. NAME_GIVEN and NAME_FAMILY count as NAME.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.redaction import RedactionEngine, process_body

ROOT = Path(__file__).resolve().parent.parent
TEST_FILE = ROOT / "tests" / "data" / "pii_test.jsonl"
DEV_FILE = ROOT / "tests" / "data" / "pii_dev.jsonl"
_SAME_AS = {"NAME_GIVEN": "NAME", "NAME_FAMILY": "NAME"}
# The types the corpus annotates (tests/data/ANNOTATION.md). A prediction of another type (CVV, PASSWORD,
# NUMERICAL_PII...) cannot be judged against it: it is neither a hit nor a false alarm here.
CORPUS_TYPES = frozenset({
    "NAME", "LOCATION_ADDRESS", "LOCATION_CITY", "LOCATION_STATE", "LOCATION_COUNTRY", "LOCATION_ZIP",
    "ORGANIZATION", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "SSN", "DATE", "DOB", "AGE", "IP_ADDRESS",
    "URL", "BANK_ACCOUNT", "PASSPORT_NUMBER", "DRIVER_LICENSE",
})  # fmt: skip


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    type: str


@dataclass
class TypeScore:
    gold: int = 0
    pred: int = 0
    tp: int = 0

    @property
    def precision(self) -> float:
        return self.tp / self.pred if self.pred else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.gold if self.gold else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    per_type: dict[str, TypeScore] = field(default_factory=dict)
    micro: TypeScore = field(default_factory=TypeScore)
    # (record id, "miss" or "false alarm", type, span text): filled only when asked for
    errors: list[tuple[str, str, str, str]] = field(default_factory=list)

    def table(self) -> str:
        lines = [f"{'type':<18} {'gold':>5} {'pred':>5} {'tp':>5} {'prec':>6} {'rec':>6} {'f1':>6}"]
        rows = [*sorted(self.per_type.items()), ("MICRO", self.micro)]
        for name, s in rows:
            lines.append(
                f"{name:<18} {s.gold:>5} {s.pred:>5} {s.tp:>5} {s.precision:>6.3f} {s.recall:>6.3f} {s.f1:>6.3f}"
            )
        return "\n".join(lines)


def _overlap_ok(a: Mention, b: Mention) -> bool:
    overlap = min(a.end, b.end) - max(a.start, b.start)
    return overlap > 0 and overlap * 2 >= max(a.end - a.start, b.end - b.start)


def match(gold: Sequence[Mention], pred: Sequence[Mention]) -> list[tuple[Mention, Mention]]:
    """One-to-one pairs of the same type that overlap enough, largest overlaps first."""
    candidates = [
        (min(g.end, p.end) - max(g.start, p.start), gi, pi)
        for gi, g in enumerate(gold)
        for pi, p in enumerate(pred)
        if g.type == p.type and _overlap_ok(g, p)
    ]
    used_gold: set[int] = set()
    used_pred: set[int] = set()
    pairs = []
    for _, gi, pi in sorted(candidates, reverse=True):
        if gi not in used_gold and pi not in used_pred:
            used_gold.add(gi)
            used_pred.add(pi)
            pairs.append((gold[gi], pred[pi]))
    return pairs


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def predict(engine: RedactionEngine, text: str) -> list[Mention]:
    result = process_body(engine, {"text": [text]})[0]
    mentions = [
        Mention(e["location"]["stt_idx"], e["location"]["end_idx"], _SAME_AS.get(e["best_label"], e["best_label"]))
        for e in result["entities"]
    ]
    return [m for m in mentions if m.type in CORPUS_TYPES]


def score(records: Iterable[dict[str, Any]], engine: RedactionEngine, keep_errors: bool = False) -> Report:
    report = Report()
    for record in records:
        text = record["text"]
        gold = [Mention(e["start"], e["end"], _SAME_AS.get(e["type"], e["type"])) for e in record["entities"]]
        pred = predict(engine, text)
        pairs = match(gold, pred)
        for mention in gold:
            report.per_type.setdefault(mention.type, TypeScore()).gold += 1
        for mention in pred:
            report.per_type.setdefault(mention.type, TypeScore()).pred += 1
        for g, _ in pairs:
            report.per_type[g.type].tp += 1
        if keep_errors:
            found_gold = {g for g, _ in pairs}
            found_pred = {p for _, p in pairs}
            rid = str(record.get("id", "?"))
            report.errors += [(rid, "miss", g.type, text[g.start : g.end]) for g in gold if g not in found_gold]
            report.errors += [(rid, "false alarm", p.type, text[p.start : p.end]) for p in pred if p not in found_pred]
    for s in report.per_type.values():
        report.micro.gold += s.gold
        report.micro.pred += s.pred
        report.micro.tp += s.tp
    return report


def evaluate(engine: RedactionEngine, path: Path | str, keep_errors: bool = False) -> Report:
    """Score `engine` with default request options on the corpus at `path`."""
    return score(load(Path(path)), engine, keep_errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--file", type=Path, help="corpus to score (default: the held-out test file)")
    parser.add_argument("--dev", action="store_true", help="score the development file instead")
    parser.add_argument("--errors", action="store_true", help="list misses and false alarms")
    args = parser.parse_args(argv)
    path = args.file or (DEV_FILE if args.dev else TEST_FILE)
    engine = RedactionEngine.from_env()
    report = evaluate(engine, path, keep_errors=args.errors)
    print(f"{path.name}: {sum(1 for _ in path.open(encoding='utf-8') if _.strip())} records")
    print(report.table())
    for rid, kind, entity_type, text in report.errors:
        print(f"{rid:<14} {kind:<12} {entity_type:<18} {text!r}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
