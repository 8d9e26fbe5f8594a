"""Run a coroutine on uvloop when it is installed (it is a dependency on Linux), else on asyncio's loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any


def run_event_loop(main: Coroutine[Any, Any, None]) -> None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - keeps a bare install working
        asyncio.run(main)
        return
    uvloop.run(main)
