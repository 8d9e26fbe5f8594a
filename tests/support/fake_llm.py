"""A small OpenAI-compatible chat server standing in for the external model in end-to-end tests.

    python -m tests.support.fake_llm --port N [--delay 0.05]

``POST /v1/chat/completions`` with ``stream: true`` answers server-sent events: the first sentence of the
first passage in the system prompt, word by word, ``--delay`` seconds apart (deterministic, so a worker
that takes an answer over after a crash produces the same tokens). The last user message picks a fault:
``[slow]`` waits 30 s before the first token, ``[garbage]`` answers text that is not an event stream,
``[error]`` answers HTTP 500. Images in the question (OpenAI ``image_url`` parts) are counted first.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
from typing import Any

from aiohttp import web


def _canned(messages: list[dict[str, Any]]) -> str:
    system = next((m["content"] for m in messages if m.get("role") == "system"), "")
    passage = system.split("[1]", 1)[1] if "[1]" in system else "nothing relevant"
    body = passage.split("\n", 1)[1] if "\n" in passage else passage
    first = re.split(r"(?<=[.!?])\s", body.strip(), maxsplit=1)[0]
    return f"From the knowledge base: {first}"


async def chat(request: web.Request) -> web.StreamResponse:
    body = await request.json()
    messages = body.get("messages") or []
    last = messages[-1]["content"] if messages else ""
    question = last if isinstance(last, str) else " ".join(p.get("text", "") for p in last if isinstance(p, dict))
    if "[error]" in question:
        return web.json_response({"error": "boom"}, status=500)
    if "[garbage]" in question:
        return web.Response(text="<html>this is not an event stream</html>\n" * 3)
    delay = request.app["delay"]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
    await response.prepare(request)
    if "[slow]" in question:
        await asyncio.sleep(30)
    images = (
        sum(1 for p in last if isinstance(p, dict) and p.get("type") == "image_url") if isinstance(last, list) else 0
    )
    text = (f"I see {images} image(s). " if images else "") + _canned(messages)
    for word in re.findall(r"\S+\s*", text):
        chunk = {"choices": [{"index": 0, "delta": {"content": word}}]}
        await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        await asyncio.sleep(delay)
    await response.write(b"data: [DONE]\n\n")
    return response


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--delay", type=float, default=0.05)
    args = parser.parse_args()
    app = web.Application()
    app["delay"] = args.delay
    app.router.add_post("/v1/chat/completions", chat)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
