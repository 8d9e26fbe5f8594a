"""What tests share: the running stack, audio fixtures and clients, fakes for in-process tests, paths."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TypeVar

TESTS = Path(__file__).resolve().parent.parent
DATA = TESTS / "data"
ROOT = TESTS.parent

T = TypeVar("T")


def settle(future: asyncio.Future[T], value: T) -> None:
    """Resolve a future unless it is already done (for event callbacks that may fire more than once)."""
    if not future.done():
        future.set_result(value)
