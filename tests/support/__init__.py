"""What tests share: the running stack, audio fixtures and clients, fakes for in-process tests, paths."""

from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent
DATA = TESTS / "data"
ROOT = TESTS.parent
